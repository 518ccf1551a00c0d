//! Marketplace categories: a built-in list, made sure of at every start-up (reference
//! data every deployment needs, so it is not demo data), plus reads.

use entity::category;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, NotSet, QueryFilter, QueryOrder};

use crate::{error::AppError, service::Services};

/// Slug, name, in display order.
pub const DEFAULT_CATEGORIES: &[(&str, &str)] = &[
    ("crm", "CRM"),
    ("marketing-automation", "Marketing automation"),
    ("analytics", "Analytics"),
    ("e-commerce", "E-commerce"),
    ("security", "Security"),
    ("hr", "HR & recruiting"),
    ("finance", "Finance & accounting"),
    ("developer-tools", "Developer tools"),
    ("design", "Design"),
    ("communication", "Communication"),
    ("productivity", "Productivity"),
    ("ai", "AI & machine learning"),
    ("customer-support", "Customer support"),
    ("sales", "Sales enablement"),
    ("data-infrastructure", "Data infrastructure"),
    ("education", "Education"),
];

/// Inserts the built-in categories that are missing; existing rows are left alone.
pub async fn ensure_defaults(services: &Services) -> Result<(), AppError> {
    let rows = DEFAULT_CATEGORIES
        .iter()
        .enumerate()
        .map(|(position, (slug, name))| category::ActiveModel {
            id: NotSet,
            slug: Set((*slug).to_owned()),
            name: Set((*name).to_owned()),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        });
    category::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([category::Column::Slug])
        .exec(&services.db)
        .await?;
    Ok(())
}

pub async fn list(services: &Services) -> Result<Vec<category::Model>, AppError> {
    Ok(category::Entity::find()
        .order_by_asc(category::Column::Position)
        .order_by_asc(category::Column::Id)
        .all(&services.db)
        .await?)
}

pub async fn find_many(services: &Services, ids: &[i64]) -> Result<Vec<category::Model>, AppError> {
    Ok(category::Entity::find()
        .filter(category::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?)
}
