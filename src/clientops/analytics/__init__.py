"""Customer value and lifecycle analytics: RFM, tiers, stages, CLV, churn, health, cohorts."""
