{% macro is_open(status_column) -%}
    {{ status_column }} in ({% for s in var('open_statuses', ['placed', 'shipped']) %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
