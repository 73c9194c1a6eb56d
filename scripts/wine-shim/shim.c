/* bcryptprimitives.dll for Wine 8.
 *
 * Rust's standard library for Windows imports ProcessPrng from
 * bcryptprimitives.dll, which Wine 8 does not ship, so every Rust program
 * fails to load under it. This DLL provides that one export on top of
 * BCryptGenRandom. It is only ever used by the test harness.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
