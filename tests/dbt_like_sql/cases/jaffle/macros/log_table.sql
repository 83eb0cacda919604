{% macro create_build_log() -%}
    create table if not exists {{ target.schema }}_marts.build_log (model varchar, row_count integer)
{%- endmacro %}
