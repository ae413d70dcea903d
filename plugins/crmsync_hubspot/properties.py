"""What the connector asks HubSpot for: object types and the standard properties of each.

The portal's custom properties are added at run time (``GET /crm/v3/properties/{type}``); the
lists travel in search and batch-read request bodies, never in a URL (no 414 however many).
"""

from __future__ import annotations

__all__ = ["MODIFIED_PROPERTY", "ENGAGEMENT_TYPES", "OBJECT_PROPERTIES"]

#: The property holding the last modification time (contacts differ).
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate"}

#: Engagement object types and the activity type each becomes.
ENGAGEMENT_TYPES = {"calls": "call", "emails": "email", "meetings": "meeting", "tasks": "task",
                    "notes": "note"}

#: The standard properties each object type is read with (custom ones are added at run time).
OBJECT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": ("name", "domain", "industry", "numberofemployees", "annualrevenue", "country",
                  "hubspot_owner_id", "hs_parent_company_id", "createdate",
                  "hs_lastmodifieddate", "hs_merged_object_ids", "type"),
    "contacts": ("firstname", "lastname", "email", "phone", "jobtitle", "associatedcompanyid",
                 "hubspot_owner_id", "lifecyclestage", "hs_analytics_source", "company",
                 "createdate", "lastmodifieddate", "hs_merged_object_ids",
                 "hs_lifecyclestage_lead_date", "hs_lifecyclestage_marketingqualifiedlead_date",
                 "hs_lifecyclestage_salesqualifiedlead_date",
                 "hs_lifecyclestage_opportunity_date", "hs_lifecyclestage_customer_date",
                 "hs_lead_status"),
    "deals": ("dealname", "dealtype", "pipeline", "dealstage", "amount", "deal_currency_code",
              "amount_in_home_currency", "closedate", "hubspot_owner_id", "closed_won_reason",
              "closed_lost_reason", "hs_is_closed_won", "hs_is_closed",
              "hs_deal_stage_probability", "hs_analytics_source", "createdate",
              "hs_lastmodifieddate", "hs_merged_object_ids", "hs_v2_date_entered_current_stage",
              "hs_manual_forecast_category"),
    "leads": ("hs_lead_name", "hs_pipeline_stage", "hubspot_owner_id", "hs_lead_source",
              "createdate", "hs_lastmodifieddate"),
    "calls": ("hs_timestamp", "hubspot_owner_id", "hs_call_direction", "hs_call_duration",
              "hs_call_disposition", "hs_call_status", "hs_call_title", "hs_lastmodifieddate",
              "hs_createdate"),
    "emails": ("hs_timestamp", "hubspot_owner_id", "hs_email_direction", "hs_email_subject",
               "hs_email_status", "hs_sequence_id", "hs_email_sent_via", "hs_lastmodifieddate",
               "hs_createdate"),
    "meetings": ("hs_timestamp", "hubspot_owner_id", "hs_meeting_title", "hs_meeting_outcome",
                 "hs_meeting_start_time", "hs_meeting_end_time", "hs_lastmodifieddate",
                 "hs_createdate"),
    "tasks": ("hs_timestamp", "hubspot_owner_id", "hs_task_subject", "hs_task_status",
              "hs_task_type", "hs_lastmodifieddate", "hs_createdate"),
    "notes": ("hs_timestamp", "hubspot_owner_id", "hs_note_body", "hs_lastmodifieddate",
              "hs_createdate"),
    # crmsync_hubspot.line_items
    "products": ("name", "hs_sku", "description", "price", "recurringbillingfrequency",
                 "hs_recurring_billing_period", "createdate", "hs_lastmodifieddate"),
    "line_items": ("name", "hs_product_id", "quantity", "price", "discount",
                   "hs_total_discount", "amount", "hs_line_item_currency_code",
                   "recurringbillingfrequency", "hs_recurring_billing_period",
                   "hs_recurring_billing_start_date", "createdate", "hs_lastmodifieddate"),
    # crmsync_hubspot.inputs
    "goal_targets": ("hs_goal_name", "hs_goal_type", "hs_target_amount", "hs_start_datetime",
                     "hs_end_datetime", "hubspot_owner_id", "hs_assignee_user_id",
                     "hs_assignee_team_id", "hubspot_team_id", "hs_createdate",
                     "hs_lastmodifieddate"),
    "feedback_submissions": ("hs_survey_type", "hs_survey_name", "hs_value",
                             "hs_response_value", "hs_content", "hs_submission_timestamp",
                             "hs_contact_id", "hubspot_owner_id", "hs_createdate",
                             "hs_lastmodifieddate"),
}
