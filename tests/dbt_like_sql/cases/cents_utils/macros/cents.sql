{% macro divisor() %}{{ return(100) }}{% endmacro %}

{% macro to_dollars(column, scale=2) -%}
    round({{ column }} / {{ divisor() }}, {{ scale }})
{%- endmacro %}
