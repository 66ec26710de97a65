//! Printing results: `--format table` (default, for people), `json` (the stable interface),
//! `yaml`.

use std::fmt::Write as _;

use serde_json::Value;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// Pretty JSON: the stable interface.
    Json,
    /// YAML.
    Yaml,
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(cell).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// Most characters of one cell in a table of rows: a long value (a job's error with its
/// stderr tail) is cut with `…`; `--format json` shows it whole.
const MAX_CELL_CHARS: usize = 120;

/// A cell of a table of rows, on one line: line breaks become ` / ` so a multi-line error
/// keeps its row, and a long value is cut at [`MAX_CELL_CHARS`].
fn row_cell(value: &Value) -> String {
    let text = cell(value);
    let mut line = text.lines().map(str::trim).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" / ");
    if line.chars().count() > MAX_CELL_CHARS {
        line = line.chars().take(MAX_CELL_CHARS - 1).chain(['…']).collect();
    }
    line
}

fn columns(rows: &[Value]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        if let Value::Object(map) = row {
            for key in map.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
    }
    columns
}

fn render_rows(rows: &[Value]) -> String {
    if rows.is_empty() {
        return "(none)\n".to_owned();
    }
    if !rows.iter().all(Value::is_object) {
        return rows.iter().map(|r| format!("{}\n", cell(r))).collect();
    }
    let columns = columns(rows);
    let table: Vec<Vec<String>> =
        rows.iter().map(|row| columns.iter().map(|c| row_cell(row.get(c).unwrap_or(&Value::Null))).collect()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| table.iter().map(|r| r[i].chars().count()).chain([c.chars().count()]).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let text: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(&mut out, &columns.iter().map(|c| c.to_uppercase()).collect::<Vec<_>>());
    for row in &table {
        line(&mut out, row);
    }
    out
}

/// Keeps only `columns` of each row, in that order.
fn project(rows: &[Value], columns: &[String]) -> Vec<Value> {
    if columns.is_empty() {
        return rows.to_vec();
    }
    rows.iter()
        .map(|row| match row {
            Value::Object(map) => {
                Value::Object(columns.iter().map(|c| (c.clone(), map.get(c).cloned().unwrap_or(Value::Null))).collect())
            }
            other => other.clone(),
        })
        .collect()
}

fn render_table(value: &Value, columns: &[String]) -> String {
    match value {
        Value::Array(rows) => render_rows(&project(rows, columns)),
        Value::Object(map) => {
            // An object whose one list field holds the rows (e.g. `{"tasks": [...]}`) prints as
            // those rows; other objects print as key/value lines.
            let lists: Vec<&Vec<Value>> = map.values().filter_map(Value::as_array).collect();
            if map.len() == 1
                && let Some(rows) = lists.first()
            {
                return render_rows(&project(rows, columns));
            }
            // Scalars first as key/value lines; then each nested object or list of objects
            // as its own titled section (e.g. stats' `overall` and `tasks`).
            let nested = |v: &Value| {
                v.as_object().is_some_and(|o| !o.is_empty())
                    || v.as_array().is_some_and(|a| a.iter().any(Value::is_object))
            };
            let flat: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| !nested(v)).collect();
            let width = flat.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
            let mut out = String::new();
            for (key, value) in &flat {
                let _ = writeln!(out, "{key:<width$}  {}", cell(value));
            }
            for (key, value) in map.iter().filter(|(_, v)| nested(v)) {
                if !out.is_empty() {
                    out.push('\n');
                }
                let _ = writeln!(out, "{key}:");
                for line in render_table(value, columns).lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            out
        }
        Value::Null => String::new(),
        other => format!("{}\n", cell(other)),
    }
}

/// Renders a result in `format`.
pub fn render(value: &Value, format: Format) -> String {
    render_columns(value, format, &[])
}

/// Renders a result in `format`; a table shows only `columns` (all when empty).
pub fn render_columns(value: &Value, format: Format, columns: &[String]) -> String {
    match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())),
        Format::Yaml => serde_saphyr::to_string(value).unwrap_or_else(|_| value.to_string()),
        Format::Table => render_table(value, columns),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Format, render};

    #[test]
    fn a_list_of_objects_prints_as_aligned_columns() {
        let out = render(&json!([{"id": 1, "name": "backup"}, {"id": 22, "name": "x", "extra": null}]), Format::Table);
        assert_eq!(out, "ID  NAME    EXTRA\n1   backup  -\n22  x       -\n");
    }

    #[test]
    fn declared_columns_choose_and_order_the_table() {
        let columns = ["name".to_owned(), "id".to_owned()];
        let out = super::render_columns(&json!([{"id": 1, "name": "a", "x": 2}]), Format::Table, &columns);
        assert_eq!(out, "NAME  ID\na     1\n");
    }

    #[test]
    fn nested_objects_and_lists_print_as_titled_sections() {
        let out =
            render(&json!({"valid": true, "overall": {"runs": 2}, "tasks": [{"name": "a", "runs": 2}]}), Format::Table);
        assert_eq!(out, "valid  true\n\noverall:\n  runs  2\n\ntasks:\n  NAME  RUNS\n  a     2\n");
    }

    #[test]
    fn an_object_prints_as_key_value_lines() {
        assert_eq!(render(&json!({"message": "hi"}), Format::Table), "message  hi\n");
    }

    #[test]
    fn a_table_cell_is_one_line_and_a_long_one_is_cut() {
        let rows =
            json!([{"id": 1, "error": "exit code 3:\n  first\n\n  second"}, {"id": 2, "error": "e".repeat(200)}]);
        let out = render(&rows, Format::Table);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[1], "1   exit code 3: / first / second");
        assert!(lines[2].ends_with(&format!("{}…", "e".repeat(119))), "{out}");
    }
}
