//! The embedded index's schema: five searchable text fields in Meilisearch's ranked order,
//! and fast (columnar) fields for filters, facets and sorts. String values are stored
//! lower-cased: string filters fold case, as Meilisearch's do.

use tantivy::{
    TantivyDocument,
    schema::{
        FAST, Field, INDEXED, IndexRecordOption, NumericOptions, STORED, STRING, Schema,
        TextFieldIndexing, TextOptions,
    },
};

use crate::search::{ProgramDocument, text};

/// Named for its positions: an index written with other positions (before hard
/// separators counted 8) has another schema, and is rebuilt on start.
pub const TOKENIZER: &str = "words_v2";

/// Searchable attributes, most important first (the attribute ranking rule).
pub const TEXT_FIELDS: [&str; 5] = [
    "name",
    "tagline",
    "vendor_name",
    "category_name",
    "description",
];

#[derive(Clone)]
pub struct Fields {
    pub program_id: Field,
    pub text: [Field; 5],
    /// Word counts of the text fields (exactness: "an attribute is the query").
    pub words: [Field; 5],
    category: Field,
    partner_types: Field,
    all_partner_types: Field,
    commission_models: Field,
    currency: Field,
    approval_mode: Field,
    countries: Field,
    worldwide: Field,
    recurring: Field,
    best_rate_bps: Field,
    best_flat_usd_cents: Field,
    cookie_days: Field,
    published_at: Field,
    average_earnings_usd_cents: Field,
    approval_rate_bps: Field,
    vendor_id: Field,
    holding_days: Field,
    recurring_months: Field,
    /// The name trimmed and lower-cased: sorting by name.
    name_sort: Field,
}

pub const WORD_COUNT_FIELDS: [&str; 5] = [
    "name_words",
    "tagline_words",
    "vendor_words",
    "category_words",
    "description_words",
];

pub fn build() -> (Schema, Fields) {
    let mut schema = Schema::builder();
    let text_options = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fast_i64 = || NumericOptions::default().set_fast();
    let program_id = schema.add_u64_field("program_id", INDEXED | FAST | STORED);
    let text = TEXT_FIELDS.map(|name| schema.add_text_field(name, text_options.clone()));
    let words = WORD_COUNT_FIELDS.map(|name| schema.add_u64_field(name, fast_i64()));
    let fields = Fields {
        program_id,
        text,
        words,
        category: schema.add_text_field("category", STRING | FAST),
        partner_types: schema.add_text_field("partner_types", STRING | FAST),
        all_partner_types: schema.add_bool_field("all_partner_types", fast_i64()),
        commission_models: schema.add_text_field("commission_models", STRING | FAST),
        currency: schema.add_text_field("currency", STRING | FAST),
        approval_mode: schema.add_text_field("approval_mode", STRING | FAST),
        countries: schema.add_text_field("countries", STRING | FAST),
        worldwide: schema.add_bool_field("worldwide", fast_i64()),
        recurring: schema.add_bool_field("recurring", fast_i64()),
        best_rate_bps: schema.add_i64_field("best_rate_bps", fast_i64()),
        best_flat_usd_cents: schema.add_i64_field("best_flat_usd_cents", fast_i64()),
        cookie_days: schema.add_i64_field("cookie_days", fast_i64()),
        published_at: schema.add_i64_field("published_at", fast_i64()),
        average_earnings_usd_cents: schema.add_i64_field("average_earnings_usd_cents", fast_i64()),
        approval_rate_bps: schema.add_i64_field("approval_rate_bps", fast_i64()),
        vendor_id: schema.add_i64_field("vendor_id", fast_i64()),
        holding_days: schema.add_i64_field("holding_days", fast_i64()),
        recurring_months: schema.add_i64_field("recurring_months", fast_i64()),
        name_sort: schema.add_text_field("name_sort", STRING | FAST),
    };
    (schema.build(), fields)
}

/// What names sort by, in both engines: trimmed and lower-cased.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Fields {
    pub fn document(&self, d: &ProgramDocument) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_u64(self.program_id, u64::try_from(d.program_id).unwrap_or(0));
        let texts = [
            &d.name,
            &d.tagline,
            &d.vendor_name,
            &d.category_name,
            &d.description,
        ];
        for (field, value) in self.text.iter().zip(texts) {
            doc.add_text(*field, value);
        }
        for (field, value) in self.words.iter().zip(texts) {
            doc.add_u64(
                *field,
                u64::try_from(text::words(value).len()).unwrap_or(u64::MAX),
            );
        }
        let lower = |s: &str| s.to_lowercase();
        doc.add_text(self.category, lower(&d.category));
        for value in &d.partner_types {
            doc.add_text(self.partner_types, lower(value));
        }
        doc.add_bool(self.all_partner_types, d.all_partner_types);
        for value in &d.commission_models {
            doc.add_text(self.commission_models, lower(value));
        }
        doc.add_text(self.currency, lower(&d.currency));
        doc.add_text(self.approval_mode, lower(&d.approval_mode));
        for value in &d.countries {
            doc.add_text(self.countries, lower(value));
        }
        doc.add_bool(self.worldwide, d.worldwide);
        doc.add_bool(self.recurring, d.recurring);
        doc.add_i64(self.best_rate_bps, d.best_rate_bps);
        doc.add_i64(self.best_flat_usd_cents, d.best_flat_usd_cents);
        doc.add_i64(self.cookie_days, d.cookie_days);
        doc.add_i64(self.published_at, d.published_at);
        doc.add_i64(
            self.average_earnings_usd_cents,
            d.average_earnings_usd_cents,
        );
        doc.add_i64(self.approval_rate_bps, d.approval_rate_bps);
        doc.add_i64(self.vendor_id, d.vendor_id);
        doc.add_i64(self.holding_days, d.holding_days);
        doc.add_i64(self.recurring_months, d.recurring_months);
        doc.add_text(self.name_sort, name_key(&d.name));
        doc
    }
}
