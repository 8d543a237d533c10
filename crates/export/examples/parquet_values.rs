//! Compares the values of two Parquet files column by column (what a reader gets back, whatever the
//! encodings), and prints each column's chunks: bytes, encodings, dictionary entries per row group.
//! A change of the export's encodings may change the file's bytes on purpose, never its values: this
//! checks the values where no other Parquet reader is installed (no pyarrow, no DuckDB on the build
//! machine), e.g. against the file of main's binary on the same day and pseudonym key
//! (formats/parquet.md). Exit status 1 when a column differs.
//! `cargo run --release -p liquidator-export --features parquet --example parquet_values -- A [B]`
use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::fs::File;

fn batches(path: &str) -> Vec<RecordBatch> {
    let f = File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.with_batch_size(65_536).build())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .map(|b| b.unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn layout(path: &str) {
    let r = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let md = r.metadata();
    let n = md.file_metadata().schema_descr().num_columns();
    let mut total = 0i64;
    println!(
        "{path}: {} row groups, {} rows",
        md.num_row_groups(),
        md.file_metadata().num_rows()
    );
    for c in 0..n {
        let (mut bytes, mut dict_entries) = (0i64, 0usize);
        let mut enc = String::new();
        for g in 0..md.num_row_groups() {
            let cc = md.row_group(g).column(c);
            bytes += cc.compressed_size();
            if g == 0 {
                enc = format!(
                    "{:?} {:?}",
                    cc.encodings().collect::<Vec<_>>(),
                    cc.compression()
                );
            }
            if cc.dictionary_page_offset().is_some() {
                let rg = r.get_row_group(g).unwrap();
                let mut pages = rg.get_column_page_reader(c).unwrap();
                if let Some(Ok(parquet::column::page::Page::DictionaryPage {
                    num_values, ..
                })) = pages.next()
                {
                    dict_entries += num_values as usize;
                }
            }
        }
        total += bytes;
        let name = md
            .file_metadata()
            .schema_descr()
            .column(c)
            .name()
            .to_string();
        println!(
            "{name:24} {bytes:>11} B  dict entries / row group {:>8}  {enc}",
            dict_entries / md.num_row_groups().max(1)
        );
    }
    println!("total column bytes {total}");
}

/// Two files whose values cannot be compared column by column: said, exit 1.
fn differ(what: &str) -> ! {
    println!("{what}");
    std::process::exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    layout(&args[0]);
    if let Some(b) = args.get(1) {
        layout(b);
        let (x, y) = (batches(&args[0]), batches(b));
        // A difference is exit 1, as documented (review B12 L6: these were asserts, exit 101).
        if x.len() != y.len() {
            differ(&format!(
                "batch counts differ: {} against {}",
                x.len(),
                y.len()
            ));
        }
        let (mut bad, mut rows) = (std::collections::BTreeSet::new(), 0);
        for (x, y) in x.iter().zip(&y) {
            if x.schema() != y.schema() {
                differ("schemas differ");
            }
            if x.num_rows() != y.num_rows() {
                differ(&format!(
                    "batch sizes differ: {} against {} rows",
                    x.num_rows(),
                    y.num_rows()
                ));
            }
            rows += x.num_rows();
            for (i, f) in x.schema().fields().iter().enumerate() {
                if x.column(i).to_data() != y.column(i).to_data() {
                    bad.insert(f.name().to_string());
                }
            }
        }
        println!("{rows} rows, {} columns differ: {bad:?}", bad.len());
        std::process::exit(i32::from(!bad.is_empty()));
    }
}
