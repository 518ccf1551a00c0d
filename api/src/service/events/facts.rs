//! What events say about the objects they concern: ids (global in payloads), states and
//! the few fields a receiver needs — never secrets, never another tenant's data.

use entity::{application, conversion, enrollment, program};
use sea_orm::ActiveEnum;
use serde_json::{Value, json};

use super::global_id;

/// A listing as events tell of it.
#[derive(Debug, Clone)]
pub struct ProgramFacts {
    pub program_id: i64,
    pub vendor_id: i64,
    pub status: String,
    pub version: i32,
    pub terms_version: i32,
}

impl ProgramFacts {
    pub fn of(program: &program::Model) -> Self {
        Self {
            program_id: program.id,
            vendor_id: program.vendor_id,
            status: program.status.to_value(),
            version: program.version,
            terms_version: program.terms_version,
        }
    }

    pub(super) fn payload(&self) -> Value {
        json!({
            "programId": global_id("Program", self.program_id),
            "vendorId": global_id("Vendor", self.vendor_id),
            "status": self.status,
            "version": self.version,
            "termsVersion": self.terms_version,
        })
    }
}

/// An application as events tell of it.
#[derive(Debug, Clone)]
pub struct ApplicationFacts {
    pub application_id: i64,
    pub program_id: i64,
    pub vendor_id: i64,
    pub partner_id: i64,
    pub status: String,
    pub join_source: String,
    /// Who decided: `team`, `automatic approval`, `invitation`, `eligibility rules`.
    pub decided_by: Option<String>,
    pub rejection_reason: Option<String>,
    pub rejection_note: Option<String>,
}

/// The facts of `application` (of a program of `vendor_id`) as it stands.
pub fn application_facts(application: &application::Model, vendor_id: i64) -> ApplicationFacts {
    ApplicationFacts {
        application_id: application.id,
        program_id: application.program_id,
        vendor_id,
        partner_id: application.partner_id,
        status: application.status.to_value(),
        join_source: application.join_source.to_value(),
        decided_by: None,
        rejection_reason: application.rejection_reason.map(|r| r.to_value()),
        rejection_note: application.rejection_note.clone(),
    }
}

impl ApplicationFacts {
    /// The same facts, decided by `by`.
    pub fn decided_by(mut self, by: &str) -> Self {
        self.decided_by = Some(by.to_owned());
        self
    }

    pub(super) fn payload(&self) -> Value {
        json!({
            "applicationId": global_id("Application", self.application_id),
            "programId": global_id("Program", self.program_id),
            "vendorId": global_id("Vendor", self.vendor_id),
            "partnerId": global_id("Partner", self.partner_id),
            "status": self.status,
            "joinSource": self.join_source,
            "decidedBy": self.decided_by,
            "rejectionReason": self.rejection_reason,
            "rejectionNote": self.rejection_note,
        })
    }
}

/// A partnership as events tell of it.
#[derive(Debug, Clone)]
pub struct EnrollmentFacts {
    pub enrollment_id: i64,
    pub application_id: i64,
    pub program_id: i64,
    pub vendor_id: i64,
    pub partner_id: i64,
    pub status: String,
    pub tier_id: Option<i64>,
    pub referral_code: String,
    /// Why it ended or was suspended, when someone said.
    pub reason: Option<String>,
}

/// The facts of `enrollment` (of a program of `vendor_id`) as it stands.
pub fn enrollment_facts(enrollment: &enrollment::Model, vendor_id: i64) -> EnrollmentFacts {
    EnrollmentFacts {
        enrollment_id: enrollment.id,
        application_id: enrollment.application_id,
        program_id: enrollment.program_id,
        vendor_id,
        partner_id: enrollment.partner_id,
        status: enrollment.status.to_value(),
        tier_id: enrollment.tier_id,
        referral_code: enrollment.referral_code.clone(),
        reason: enrollment.end_reason.clone(),
    }
}

impl EnrollmentFacts {
    /// The same facts, with the reason someone gave.
    pub fn because(mut self, reason: Option<&str>) -> Self {
        self.reason = reason.map(str::to_owned);
        self
    }

    pub(super) fn payload(&self) -> Value {
        json!({
            "enrollmentId": global_id("Enrollment", self.enrollment_id),
            "applicationId": global_id("Application", self.application_id),
            "programId": global_id("Program", self.program_id),
            "vendorId": global_id("Vendor", self.vendor_id),
            "partnerId": global_id("Partner", self.partner_id),
            "status": self.status,
            "tierId": self.tier_id.map(|id| global_id("ProgramTier", id)),
            "referralCode": self.referral_code,
            "reason": self.reason,
        })
    }
}

/// A conversion as events tell of it.
#[derive(Debug, Clone)]
pub struct ConversionFacts {
    pub conversion_id: i64,
    pub program_id: i64,
    pub vendor_id: i64,
    pub partner_id: i64,
    pub enrollment_id: i64,
    pub event: String,
    pub amount_minor: i64,
    pub currency: String,
    /// What the partner earned (net of this change), in the program's currency.
    pub commission_minor: i64,
    pub reason: Option<String>,
}

impl ConversionFacts {
    pub fn of(conversion: &conversion::Model, commission_minor: i64) -> Self {
        Self {
            conversion_id: conversion.id,
            program_id: conversion.program_id,
            vendor_id: conversion.vendor_id,
            partner_id: conversion.partner_id,
            enrollment_id: conversion.enrollment_id,
            event: conversion.event.to_value(),
            amount_minor: conversion.amount_minor,
            currency: conversion.currency.clone(),
            commission_minor,
            reason: conversion.reversal_reason.clone(),
        }
    }

    pub(super) fn payload(&self) -> Value {
        json!({
            "conversionId": global_id("Conversion", self.conversion_id),
            "programId": global_id("Program", self.program_id),
            "vendorId": global_id("Vendor", self.vendor_id),
            "partnerId": global_id("Partner", self.partner_id),
            "enrollmentId": global_id("Enrollment", self.enrollment_id),
            "event": self.event,
            "amountMinor": self.amount_minor,
            "currency": self.currency,
            "commissionMinor": self.commission_minor,
            "reason": self.reason,
        })
    }
}
