{#- Baton's schemas are named in dbt_project.yml (RAW, ANALYTICS) and used as they are, on every
    target: a deployment has one database, and business users know its schemas by these names.
    A node with no schema configured builds in the target's. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
