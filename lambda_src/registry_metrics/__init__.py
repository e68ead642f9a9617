"""Publishes model-registry KPIs (registrations, approvals, rejections, model quality) to CloudWatch."""
