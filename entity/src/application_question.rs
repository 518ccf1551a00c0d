//! A question a program asks applicants. Editing questions retires the old ones; answers
//! keep the prompt they answered.

use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum QuestionKind {
    #[sea_orm(string_value = "SHORT_TEXT")]
    ShortText,
    #[sea_orm(string_value = "LONG_TEXT")]
    LongText,
    #[sea_orm(string_value = "URL")]
    Url,
    #[sea_orm(string_value = "SINGLE_SELECT")]
    SingleSelect,
    #[sea_orm(string_value = "MULTI_SELECT")]
    MultiSelect,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "application_question")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    pub prompt: String,
    pub kind: QuestionKind,
    /// JSON array of option labels (select kinds only; `[]` otherwise).
    pub options: Json,
    pub required: bool,
    pub position: i32,
    pub created_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
}

impl Model {
    pub fn option_labels(&self) -> Vec<String> {
        serde_json::from_value(self.options.clone()).unwrap_or_default()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
