//! sea-orm entities: the storage model. Never exposed as API types directly; the GraphQL
//! layer and the search documents convert from these explicitly.

pub mod api_key;
pub mod application;
pub mod application_event;
pub mod application_question;
pub mod category;
pub mod code_list;
pub mod commission;
pub mod commission_rule;
pub mod consumer_cursor;
pub mod conversion;
pub mod enrollment;
pub mod event;
pub mod exchange_rate;
pub mod invitation;
pub mod partner;
pub mod persisted_query;
pub mod program;
pub mod program_stats;
pub mod program_tier;
pub mod refresh_token;
pub mod user;
pub mod vendor;
pub mod vendor_member;
pub mod webhook_delivery;
pub mod webhook_endpoint;
