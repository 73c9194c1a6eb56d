//! The completion port's key space: every key class reaches its owner, and
//! a packet nobody can own panics with a message naming it.
#![cfg(windows)]
mod common;

use std::time::Duration;

use oneport::lowlevel::{current_iocp, monitor_completion_key, statistics, CompletionKeyEventInfo};
use windows_sys::Win32::System::IO::{PostQueuedCompletionStatus, OVERLAPPED};

fn post(key: usize, bytes: u32, overlapped: usize) {
    // SAFETY: posting copies three values into the runtime's open port;
    // the OVERLAPPED pointer is never dereferenced by the kernel.
    let ok = unsafe {
        PostQueuedCompletionStatus(current_iocp(), bytes, key, overlapped as *const OVERLAPPED)
    };
    assert_ne!(
        ok,
        0,
        "PostQueuedCompletionStatus failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Posts one packet and gives the loop a few turns to dispatch it.
fn dispatch_one(key: usize, overlapped: usize) {
    oneport::run(async move {
        post(key, 5, overlapped);
        oneport::time::sleep(Duration::from_millis(20)).await;
    });
}

#[test]
fn monitor_packets_arrive_in_order_with_their_values() {
    oneport::run(async {
        let mut m = monitor_completion_key();
        assert!(m.key() >= 5, "monitor keys start above oneport's own");
        assert_eq!(statistics().completion_key_monitors, 1);
        for i in 0..10u32 {
            post(m.key(), i * 100, 0x1000 + i as usize);
            if i % 3 == 0 {
                oneport::yield_now().await;
            }
        }
        for i in 0..10u32 {
            let info = m.next().await;
            assert_eq!(
                info,
                CompletionKeyEventInfo {
                    overlapped: 0x1000 + i as usize,
                    bytes_transferred: i * 100
                }
            );
        }
    });
}

#[test]
fn monitor_keys_are_never_reused_and_late_packets_are_discarded() {
    oneport::run(async {
        let m1 = monitor_completion_key();
        let k1 = m1.key();
        drop(m1);
        let m2 = monitor_completion_key();
        assert_ne!(m2.key(), k1);
        assert_eq!(statistics().completion_key_monitors, 1);
        post(k1, 1, 0);
        post(k1, 2, 0);
        oneport::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(statistics().completion_key_packets_discarded, 2);
    });
}

#[test]
fn a_wakeup_packet_is_consumed_quietly() {
    oneport::run(async {
        let before = statistics().wakeups_received;
        post(3, 0, 0);
        oneport::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(statistics().wakeups_received, before + 1);
    });
}

#[test]
#[should_panic(expected = "unknown completion key 0x77770000 (overlapped 0x4242")]
fn a_packet_with_a_key_never_handed_out_panics_naming_it() {
    dispatch_one(0x7777_0000, 0x4242);
}

#[test]
#[should_panic(expected = "AFD poll completion (key 0) for unknown OVERLAPPED 0x1230")]
fn an_afd_packet_for_an_unknown_poll_panics_naming_it() {
    dispatch_one(0, 0x1230);
}

#[test]
#[should_panic(expected = "overlapped completion (key 1) for unknown OVERLAPPED 0x1240")]
fn an_overlapped_packet_for_an_unknown_operation_panics_naming_it() {
    dispatch_one(1, 0x1240);
}

#[test]
#[should_panic(expected = "late-cancel packet (key 2) for unknown OVERLAPPED 0x1250")]
fn a_late_cancel_packet_for_an_unknown_operation_panics_naming_it() {
    dispatch_one(2, 0x1250);
}

#[test]
fn current_iocp_is_the_runtimes_port() {
    let (a, b) = oneport::run(async { (current_iocp() as usize, current_iocp() as usize) });
    assert_eq!(a, b);
    let c = oneport::run(async { current_iocp() as usize });
    assert!(a != 0 && c != 0);
}

#[test]
#[should_panic(expected = "completion key 4 is reserved for oneport's object waits")]
fn a_foreign_packet_on_the_object_wait_key_panics_saying_the_key_is_reserved() {
    // No wait was ever started: the id names nothing.
    dispatch_one(4, 0xdead_beef);
}

#[test]
fn monitor_keys_start_above_the_reserved_ones() {
    oneport::run(async {
        let m = monitor_completion_key();
        assert!(m.key() >= 5, "monitor key {} collides with 0-4", m.key());
    });
}
