//! One table per workload, printed as Markdown: a row per contender, and for
//! each figure its value and its ratio to oneport's (contender ÷ oneport),
//! or to another reference row where a workload names one.

use std::fmt::Write as _;

/// A figure's cell.
#[derive(Clone, Debug)]
pub enum Cell {
    /// A measured value.
    Value(f64),
    /// The contender cannot run this workload.
    NotApplicable,
    /// The run failed (the error is printed to stderr).
    Failed,
    /// The run did not finish within its bound and was given up on.
    TimedOut,
    /// Not run: an earlier run left work behind that would skew it.
    Skipped,
}

/// One figure column: its heading and whether more is better.
pub struct Column {
    /// Heading, with the unit.
    pub name: String,
    /// More is better (throughput) or less is better (time, latency).
    pub higher_is_better: bool,
    /// Whether it gets a ratio column (not for a figure about the
    /// measurement itself, such as its spread).
    pub ratio: bool,
}

impl Column {
    /// A column where more is better.
    pub fn more(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            higher_is_better: true,
            ratio: true,
        }
    }
    /// A column where less is better.
    pub fn less(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            higher_is_better: false,
            ratio: true,
        }
    }
    /// A column about the measurement (neither better nor worse), without
    /// a ratio column.
    pub fn info(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            higher_is_better: false,
            ratio: false,
        }
    }
}

/// A workload's table.
pub struct Table {
    title: String,
    columns: Vec<Column>,
    rows: Vec<(String, Vec<Cell>)>,
    reference: String,
}

impl Table {
    /// An empty table.
    pub fn new(title: impl Into<String>, columns: Vec<Column>) -> Table {
        Table {
            title: title.into(),
            columns,
            rows: Vec::new(),
            reference: "oneport".into(),
        }
    }

    /// Takes the ratios against the row named `reference` instead of
    /// oneport's.
    pub fn against(mut self, reference: impl Into<String>) -> Table {
        self.reference = reference.into();
        self
    }

    /// Adds a contender's row (one cell per column).
    pub fn row(&mut self, contender: &str, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push((contender.to_string(), cells));
    }

    /// The table as Markdown. The reference row is the one named "oneport"
    /// (or as [`Table::against`] set).
    pub fn render(&self) -> String {
        let reference = self
            .rows
            .iter()
            .find(|(n, _)| *n == self.reference)
            .map(|(_, c)| c);
        let mut head = vec!["contender".to_string()];
        for c in &self.columns {
            if !c.ratio {
                head.push(c.name.clone());
                continue;
            }
            head.push(format!(
                "{} {}",
                c.name,
                if c.higher_is_better { "↑" } else { "↓" }
            ));
            head.push(format!("÷ {}", self.reference));
        }
        let mut lines = vec![head];
        for (name, cells) in &self.rows {
            let mut line = vec![name.clone()];
            for (i, cell) in cells.iter().enumerate() {
                line.push(fmt_cell(cell));
                if !self.columns[i].ratio {
                    continue;
                }
                let ratio = match (cell, reference.map(|r| &r[i])) {
                    (Cell::Value(v), Some(Cell::Value(r))) if *r != 0.0 => format!("{:.2}", v / r),
                    _ => "-".into(),
                };
                line.push(ratio);
            }
            lines.push(line);
        }
        let widths: Vec<usize> = (0..lines[0].len())
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = format!("\n### {}\n\n", self.title);
        for (k, l) in lines.iter().enumerate() {
            out.push('|');
            for (i, cell) in l.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if i == 0 {
                    let _ = write!(out, " {cell}{} |", " ".repeat(pad));
                } else {
                    let _ = write!(out, " {}{cell} |", " ".repeat(pad));
                }
            }
            out.push('\n');
            if k == 0 {
                out.push('|');
                for (i, w) in widths.iter().enumerate() {
                    let dashes = "-".repeat(*w);
                    if i == 0 {
                        let _ = write!(out, " {dashes} |");
                    } else {
                        let _ = write!(out, "{dashes}-:|");
                    }
                }
                out.push('\n');
            }
        }
        out
    }
}

fn fmt_cell(c: &Cell) -> String {
    match c {
        Cell::Value(v) if *v >= 100.0 => format!("{v:.0}"),
        Cell::Value(v) if *v >= 10.0 => format!("{v:.1}"),
        Cell::Value(v) => format!("{v:.2}"),
        Cell::NotApplicable => "n/a".into(),
        Cell::Failed => "failed".into(),
        Cell::TimedOut => "timeout".into(),
        Cell::Skipped => "skipped".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_against_the_oneport_row() {
        let mut t = Table::new("t", vec![Column::more("MiB/s"), Column::less("us")]);
        t.row("oneport", vec![Cell::Value(100.0), Cell::Value(2.0)]);
        t.row("other", vec![Cell::Value(50.0), Cell::NotApplicable]);
        t.row("broken", vec![Cell::Failed, Cell::Value(4.0)]);
        let s = t.render();
        let other = s.lines().find(|l| l.starts_with("| other")).unwrap();
        assert!(other.contains(" 0.50 |"), "{other}");
        assert!(other.contains(" n/a |"), "{other}");
        let broken = s.lines().find(|l| l.starts_with("| broken")).unwrap();
        assert!(
            broken.contains(" failed |") && broken.contains(" 2.00 |"),
            "{broken}"
        );
    }

    #[test]
    fn another_reference_row() {
        let mut t = Table::new("t", vec![Column::more("rt/s")]).against("tokio-mt");
        t.row("oneport", vec![Cell::Value(90.0)]);
        t.row("tokio-mt", vec![Cell::Value(100.0)]);
        let s = t.render();
        assert!(s.contains("÷ tokio-mt"), "{s}");
        let one = s.lines().find(|l| l.starts_with("| oneport")).unwrap();
        assert!(one.contains(" 0.90 |"), "{one}");
    }

    #[test]
    fn info_columns_have_no_ratio() {
        let mut t = Table::new("t", vec![Column::more("rt/s"), Column::info("spread %")]);
        t.row("oneport", vec![Cell::Value(90.0), Cell::Value(4.0)]);
        let s = t.render();
        let head = s.lines().find(|l| l.starts_with("| contender")).unwrap();
        assert_eq!(head.matches('÷').count(), 1, "{head}");
        assert!(head.ends_with("| spread % |"), "{head}");
        let one = s.lines().find(|l| l.starts_with("| oneport")).unwrap();
        let cells: Vec<&str> = one.split('|').map(str::trim).collect();
        assert_eq!(cells, ["", "oneport", "90.0", "1.00", "4.00", ""], "{one}");
    }
}
