"""The dashboard: the funnel from harvested to won, week by week, as charts and tables."""
