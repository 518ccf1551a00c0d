//! `searchPrograms`: typo-tolerant, faceted search over published listings.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, connection::PageInfo};
use rust_decimal::Decimal;

use super::{
    GqlResultExt,
    connection::page_cost,
    context::ContextExt,
    programs::{CommissionModel, PartnerType, Program},
};
use crate::{
    error::AppError,
    search,
    service::{reference::currencies, search as service},
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum SearchSort {
    /// Best matches first: fewer typos, words closer together, matches in the name before
    /// the tagline, vendor, category and description, exact words; then newest.
    #[default]
    Relevance,
    /// Most recently published first (over every match).
    Newest,
    /// Highest percentage rate first (over every match).
    HighestRate,
    /// Highest measured average monthly earnings per partner first, compared in US
    /// dollars at the operators' exchange rates (over every match). Programs whose figure
    /// is withheld (fewer than 5 earning partners) come last, by relevance.
    HighestEarnings,
    /// By name, A to Z, ignoring case (over every match; ties by relevance).
    Name,
}

impl From<SearchSort> for search::SearchSort {
    fn from(sort: SearchSort) -> Self {
        match sort {
            SearchSort::Relevance => Self::Relevance,
            SearchSort::Newest => Self::Newest,
            SearchSort::HighestRate => Self::HighestRate,
            SearchSort::HighestEarnings => Self::HighestEarnings,
            SearchSort::Name => Self::Name,
        }
    }
}

/// Inclusive bounds; either may be left out.
#[derive(InputObject, Clone, Copy)]
pub struct IntRange {
    pub min: Option<i32>,
    pub max: Option<i32>,
}

/// Narrows a search. Values within a field are alternatives; fields combine. String values
/// are matched literally (quotes, colons or `OR` are just characters) and ignore case.
#[derive(InputObject, Default)]
pub struct SearchFilter {
    /// Category slugs.
    pub categories: Option<Vec<String>>,
    /// Programs accepting any of these partner types (programs open to all match).
    pub partner_types: Option<Vec<PartnerType>>,
    pub commission_models: Option<Vec<CommissionModel>>,
    /// Best percentage rate at least this (percent, e.g. "20").
    pub min_percentage_rate: Option<Decimal>,
    /// Measured average monthly earnings per partner at least this many US dollars (e.g.
    /// "250"; other currencies are compared at the operators' exchange rates). Programs
    /// whose figure is withheld never match.
    pub min_average_monthly_earnings_usd: Option<Decimal>,
    /// Measured approval rate at least this (percent, e.g. "50"). Programs with fewer
    /// than 5 decisions in 180 days never match.
    pub min_approval_rate: Option<Decimal>,
    /// Only programs paying more than once per customer (recurring or lifetime rules).
    pub recurring_only: Option<bool>,
    /// ISO 4217 codes.
    pub currencies: Option<Vec<String>>,
    pub cookie_window_days: Option<IntRange>,
    /// Only programs that approve every application at once.
    pub automatic_approval_only: Option<bool>,
    /// Programs serving any of these countries (worldwide programs serve all).
    pub countries: Option<Vec<String>>,
    /// Leave out programs you applied to or joined.
    pub exclude_mine: Option<bool>,
    /// Programs of any of these vendors (at most 50).
    pub vendor_ids: Option<Vec<async_graphql::ID>>,
    /// Holding period (days before a commission is approved and payable) at most this.
    pub max_holding_days: Option<i32>,
    /// Only recurring programs whose longest recurring period, in months, is within this
    /// range (a lifetime rule counts as unlimited: it passes every minimum and no maximum
    /// below 1,200).
    pub recurring_months: Option<IntRange>,
    /// Only programs serving every country.
    pub worldwide_only: Option<bool>,
    /// Leave out programs limited to a list of countries that names any of these
    /// (worldwide programs stay).
    pub excluded_countries: Option<Vec<String>>,
}

/// Most vendors one search may name.
const MAX_VENDOR_IDS: usize = 50;

fn codes<T: Copy>(values: Option<Vec<T>>, code: impl Fn(T) -> &'static str) -> Vec<String> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(|v| code(v).to_owned())
        .collect()
}

/// A percentage bound in basis points: 0–100 with at most two decimals.
fn percentage(value: Option<Decimal>, field: &str) -> Result<Option<i64>, AppError> {
    value
        .map(|rate| {
            currencies::percent_to_rate(rate)
                .filter(|bps| (0..=10_000).contains(bps))
                .ok_or_else(|| {
                    AppError::BadUserInput(format!(
                        "`{field}` must be a percentage between 0 and 100"
                    ))
                })
        })
        .transpose()
}

impl SearchFilter {
    fn into_service(self) -> Result<(search::SearchFilter, bool), AppError> {
        use entity::code_list::Code;
        let min_rate_bps = percentage(self.min_percentage_rate, "minPercentageRate")?;
        let min_approval = percentage(self.min_approval_rate, "minApprovalRate")?;
        let min_earnings = match self.min_average_monthly_earnings_usd {
            Some(amount) => Some(currencies::to_minor(amount, "USD").map_err(|e| {
                AppError::BadUserInput(format!(
                    "`minAverageMonthlyEarningsUsd` {}",
                    e.message("USD")
                ))
            })?),
            None => None,
        };
        let range = self.cookie_window_days;
        let vendor_ids = self.vendor_ids.unwrap_or_default();
        if vendor_ids.len() > MAX_VENDOR_IDS {
            return Err(AppError::BadUserInput(format!(
                "`vendorIds` takes at most {MAX_VENDOR_IDS} ids"
            )));
        }
        let vendor_ids = vendor_ids
            .iter()
            .map(|id| super::relay::decode_as(id, super::relay::NodeType::Vendor))
            .collect::<Result<Vec<i64>, AppError>>()?;
        let months = self.recurring_months;
        let filter = search::SearchFilter {
            categories: self.categories.unwrap_or_default(),
            partner_types: codes(self.partner_types, |t| {
                entity::program::PartnerType::from(t).code()
            }),
            commission_models: codes(self.commission_models, |m| match m {
                CommissionModel::Percentage => "PERCENTAGE",
                CommissionModel::Flat => "FLAT",
            }),
            min_rate_bps,
            min_average_earnings_usd_cents: min_earnings,
            min_approval_rate_bps: min_approval,
            recurring_only: self.recurring_only.unwrap_or(false),
            currencies: self.currencies.unwrap_or_default(),
            cookie_days_min: range.and_then(|r| r.min).map(i64::from),
            cookie_days_max: range.and_then(|r| r.max).map(i64::from),
            automatic_approval_only: self.automatic_approval_only.unwrap_or(false),
            countries: self.countries.unwrap_or_default(),
            exclude_program_ids: Vec::new(),
            vendor_ids,
            holding_days_max: self.max_holding_days.map(i64::from),
            recurring_months_min: months.and_then(|r| r.min).map(i64::from),
            recurring_months_max: months.and_then(|r| r.max).map(i64::from),
            worldwide_only: self.worldwide_only.unwrap_or(false),
            excluded_countries: self.excluded_countries.unwrap_or_default(),
        };
        Ok((filter, self.exclude_mine.unwrap_or(false)))
    }
}

/// What matched, with `<mark>` around the matched words; the text is HTML-escaped.
#[derive(SimpleObject)]
pub struct SearchHighlights {
    pub name: String,
    pub tagline: String,
    /// An excerpt of the description around the first match; null when it did not match.
    pub description: Option<String>,
}

#[derive(SimpleObject)]
pub struct ProgramSearchEdge {
    pub cursor: String,
    pub node: Program,
    pub highlights: SearchHighlights,
}

/// How many results each value would have, with the other filters applied.
#[derive(SimpleObject)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(SimpleObject)]
pub struct PartnerTypeFacetCount {
    pub value: PartnerType,
    pub count: u64,
}

#[derive(SimpleObject)]
pub struct CommissionModelFacetCount {
    pub value: CommissionModel,
    pub count: u64,
}

/// Facet counts, most frequent first. Each facet is counted with every other filter
/// applied but its own, so choosing another value of it never shows zero.
#[derive(SimpleObject)]
pub struct SearchFacets {
    /// By category slug.
    pub categories: Vec<FacetCount>,
    pub partner_types: Vec<PartnerTypeFacetCount>,
    pub commission_models: Vec<CommissionModelFacetCount>,
    /// By ISO 4217 code.
    pub currencies: Vec<FacetCount>,
}

fn typed<T: entity::code_list::Code, G: From<T>>(values: Vec<(String, u64)>) -> Vec<(G, u64)> {
    values
        .into_iter()
        .filter_map(|(v, c)| T::from_code(&v).map(|t| (G::from(t), c)))
        .collect()
}

impl From<search::Facets> for SearchFacets {
    fn from(f: search::Facets) -> Self {
        let models = f
            .commission_models
            .into_iter()
            .filter_map(|(v, count)| {
                let value = match v.as_str() {
                    "PERCENTAGE" => CommissionModel::Percentage,
                    "FLAT" => CommissionModel::Flat,
                    _ => return None,
                };
                Some(CommissionModelFacetCount { value, count })
            })
            .collect();
        Self {
            categories: f
                .categories
                .into_iter()
                .map(|(value, count)| FacetCount { value, count })
                .collect(),
            partner_types: typed::<entity::program::PartnerType, PartnerType>(f.partner_types)
                .into_iter()
                .map(|(value, count)| PartnerTypeFacetCount { value, count })
                .collect(),
            commission_models: models,
            currencies: f
                .currencies
                .into_iter()
                .map(|(value, count)| FacetCount { value, count })
                .collect(),
        }
    }
}

/// One page of search results.
pub struct ProgramSearchResult(service::SearchPage);

#[Object]
impl ProgramSearchResult {
    async fn edges(&self) -> Vec<ProgramSearchEdge> {
        self.0
            .items
            .iter()
            .map(|item| ProgramSearchEdge {
                cursor: item.cursor.clone(),
                node: Program(item.program.clone()),
                highlights: SearchHighlights {
                    name: item.highlights.name.clone(),
                    tagline: item.highlights.tagline.clone(),
                    description: item.highlights.description.clone(),
                },
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<Program> {
        self.0
            .items
            .iter()
            .map(|item| Program(item.program.clone()))
            .collect()
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.0.has_previous_page,
            has_next_page: self.0.has_next_page,
            start_cursor: self.0.items.first().map(|i| i.cursor.clone()),
            end_cursor: self.0.items.last().map(|i| i.cursor.clone()),
        }
    }

    /// Every match, across pages.
    async fn total_count(&self) -> u64 {
        self.0.total
    }

    async fn facets(&self) -> SearchFacets {
        self.0.facets.clone().into()
    }

    /// Time the search engine spent.
    async fn processing_time_ms(&self) -> u64 {
        self.0.processing_time_ms
    }
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Searches published listings: every query word must match, with typos (one from 5
    /// letters, two from 9), the last word as a prefix. Answers `SEARCH_UNAVAILABLE` within
    /// a second when the search engine is down; everything else keeps working.
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn search_programs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 512 characters; empty browses.")] query: Option<String>,
        filter: Option<SearchFilter>,
        sort: Option<SearchSort>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ProgramSearchResult> {
        let actor = ctx.actor()?;
        let (filter, exclude_mine) = filter.unwrap_or_default().into_service().gql()?;
        let input = service::SearchInput {
            query: query.unwrap_or_default(),
            filter,
            exclude_mine,
            sort: sort.unwrap_or_default().into(),
            first,
            after,
        };
        let page = service::search(ctx.services(), &actor.viewer, input)
            .await
            .gql()?;
        Ok(ProgramSearchResult(page))
    }
}
