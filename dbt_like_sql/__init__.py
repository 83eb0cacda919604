"""SQL models on Snowflake and the small dbt-like engine that compiles and runs them."""
