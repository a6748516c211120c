#!/usr/bin/env python3
"""Writes engine_cases.inc: unit cases for Lathe's Jinja engine whose expected outputs come from
real jinja2 (3.1.6) in the environment transformers renders chat templates with (see
tests/fixtures/chat_templates/README.md). Expected strings are never written by hand.

    python3 tests/chat/make_engine_cases.py   # needs jinja2 installed
"""
import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.sandbox
from jinja2 import nodes

CASES = {}


def case(group, template, **variables):
    CASES.setdefault(group, []).append((template, variables))


# ---- expressions: printing, arithmetic, comparisons, logic ----
g = "expressions"
case(g, "{{ true }}|{{ false }}|{{ none }}|{{ 1 }}|{{ 1.0 }}|{{ -0.0 }}|{{ 1e16 }}|{{ 0.0001 }}|{{ 0.00001 }}|{{ 1.5e300*1e10 }}")
case(g, "{{ [1, 'a', none, true, 2.5, [], {}] }}|{{ {'a': 1, 'b': [1,2]} }}|{{ (1,) }}|{{ () }}|{{ (1,2) }}")
case(g, "{{ \"it's\" }}|{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'nl\\n', 'tab\\t', 'bs\\\\'] }}")
case(g, "{{ x }}", x={"k": [1, 2.0, None, True, "é"]})
case(g, "{{ 1, 2 }}")
case(g, "{{ 3/2 }} {{ 4/2 }} {{ 7//2 }} {{ -7//2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 2**10 }} {{ 2**-1 }} {{ 2.0**2 }} {{ 1 + 2.0 }} {{ true + 1 }} {{ -3 }} {{ +3 }} {{ 1 - 5 }}")
case(g, "{{ 10 // 3.0 }} {{ -7.0 // 2 }} {{ 5 % -3 }} {{ 5.5 % -2 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ 2/3 }} {{ 10/3 }}")
case(g, "{{ 2 ** 3 ** 2 }} {{ 1 + 2 * 3 - 4 / 2 }} {{ not 1 == 2 }}")
case(g, "{{ 1.0|string }} {{ 1e-7|string }} {{ 100.0 }} {{ 1.23456789e-300 }} {{ 2.5e15 }} {{ 2.5e16 }}")
case(g, "{{ x }}|{{ x|tojson }}", x=-1.5e-10)
case(g, "{{ 'a' * 3 }}{{ [1] * 2 }}{{ 2 * 'b' }}")
case(g, "{{ 'a' ~ 1 ~ none ~ undefined_var ~ [1] }}|{{ 'x' ~ 1.0 }}|{{ true ~ '' }}")
case(g, "{{ 'a' ~ 'b' | upper }}|{{ -1|abs }}|{{ (1 - 2)|abs }}")
case(g, "{{ '%(a)s-%(b)05.1f' % {'a': 1, 'b': 2.25} }}|{{ '%-4s|%4d' % ('x', 7) }}")
case(g, "{{ '%s and %d' % ('a', 3) }}|{{ '%05.2f' % 3.14159 }}|{{ '%s' % 'x' }}|{{ '%r' % 'x' }}|{{ '%%' % () }}")
case(g, "{{ 1 == 1.0 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1,2] < [1,3] }} {{ 1 != 2 }} {{ none == none }} {{ (1,2) == [1,2] }}")
case(g, "{{ true == 1 }}{{ 'a' == 'a' }}{{ [] == [] }}{{ u == u }}{{ u == none }}{{ {'a': 1} == {'a': 1} }}{{ 'a' < 'B' }}{{ 'é' > 'z' }}")
case(g, "{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ '' and 'z' }}|{{ none or none }}|{{ not '' }}|{{ not [1] }}|{{ 'a' is string and 'b' }}")
case(g, "{{ 'a' in 'cat' }} {{ 1 in [1,2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'cat' }} {{ 'x' in u }}")
case(g, "{{ 'a' if true else 'b' }}|{{ 'a' if false }}|{{ 'a' if false else 'b' if true else 'c' }}|{{ 1 if u }}|")
case(g, "{{ [1,2,3,4,5][1:3] }}{{ [1,2,3,4,5][::-1] }}{{ [1,2,3,4,5][-2:] }}{{ [1,2,3,4,5][:-2] }}{{ 'hello'[1:4] }}{{ 'hello'[::2] }}{{ [1,2,3][5:] }}{{ 'héllo'[1:3] }}{{ [1,2,3,4,5][4:1:-2] }}")
case(g, "{{ [1,2][5] }}|{{ 'abc'[1] }}|{{ 'abc'[-1] }}|{{ [1,2,3][-1] }}|{{ x.0 }}{{ x.1 }}", x=[5, 6])
case(g, "{{ '\\u00e9\\x41\\101\\q' }}|{{ 'a' 'b' }}|{{ \"multi\\\nline\" }}")
case(g, "{{ namespace(a=1).a }}{{ dict(a=1, b=2) }}{{ range(3)|list }}{{ range(1, 7, 2)|list }}")
case(g, "{{ [1, 2,] }}{{ {'a': 1,} }}{{ (1,) }}|{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 1_0.5e1_0 }}")

# ---- undefined values ----
g = "undefined"
case(g, "{{ u }}|{{ u is defined }}|{{ u is undefined }}|{{ u|default('d') }}|{{ ''|default('d') }}|{{ ''|default('d', true) }}|{{ none|default('d') }}|{{ u|length }}")
case(g, "{{ d.missing }}|{{ d.missing is defined }}|{{ d['missing'] is defined }}|{{ d.a.b }}", d={"a": {"b": 1}})
case(g, "{% for x in u %}{{ x }}{% else %}empty{% endfor %}")
case(g, "{{ n.x }}|{{ n['x'] }}", n=None)
case(g, "{{ u|trim }}|{{ u|list }}|{{ u|upper }}|{{ u is sequence }}{{ u is iterable }}{{ u is mapping }}")
case(g, "{{ {'a':1}['b'] }}|{{ {'a':1}.b }}|{{ x['a']['b'] is defined }}", x={"a": {}})
case(g, "{{ u.x }}")
case(g, "{{ u['x'] }}")
case(g, "{{ u + 1 }}")
case(g, "{{ u() }}")
case(g, "{{ d.missing.x }}", d={})
case(g, "{{ messages[0]['content'].x }}", messages=[])
case(g, "{{ 5 > u }}")
case(g, "{{ u|tojson }}")

# ---- Python methods of str, dict, list ----
g = "methods"
case(g, "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a '.lstrip() }}|{{ ' a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ '  1   2   3  '.split(none, 1) }}")
case(g, "{{ 'abc'.startswith('a') }}{{ 'abc'.endswith(('x','c')) }}{{ 'aaa'.replace('a','b',2) }}{{ 'Hello World'.lower() }}{{ 'hello world'.upper() }}{{ 'hello wORLD'.title() }}{{ 'hELLO'.capitalize() }}{{ ','.join(['a','b']) }}")
case(g, "{{ 'abc'.find('c') }}{{ 'abc'.count('b') }}{{ 'x'.foo }}|{{ 'a\\nb'.splitlines() }}|{{ '{}-{}'.format(1, 2) }}")
case(g, "{{ 'a b'.split(' ') }}{{ ''.split() }}{{ ''.split(',') }}{{ 'abc'.split('b', 0) }}")
case(g, "{{ 'ÀÉÎ'.lower() }}{{ 'straße'.upper() }}{{ 'hello world-foo_bar'.title() }}{{ \"they're\".title() }}{{ 'aB1cD'.title() }}")
case(g, "{{ ' \u00a0x\u2003 '|trim }}|{{ ' \u3000x\n'.strip() }}|")
case(g, "{% set s = 'x' %}{{ s.strip().upper().replace('X', 'y') }}")
case(g, "{{ d.items()|list }}{{ d.keys()|list }}{{ d.values()|list }}{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 5) }}", d={"a": 1, "b": 2})
case(g, "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}", d={"b": 1, "a": 2})
case(g, "{{ d['items'] }}", d={"items": 1})
case(g, "{% set l = [1] %}{{ l.append(2) }}")
# The ImmutableSandboxedEnvironment: modifying methods are an Undefined that fails when called.
case(g, "{% set l = [1] %}{{ l.append is defined }}{{ l.copy() }}{{ {'a': 1}.update is defined }}{{ l.count(1) }}{{ l.index(1) }}")
case(g, "{% set ns = namespace(ids=[]) %}{% set _ = ns.ids.append(1) %}")
case(g, "{{ d.pop('a') }}", d={"a": 1})

# ---- filters ----
g = "filters"
case(g, "{{ '  x '|trim }}|{{ 'xax'|trim('x') }}|{{ [1,2]|length }}|{{ 'héllo'|length }}|{{ {'a':1}|count }}|{{ 'abc'|list }}|{{ 5|string }}|{{ '42'|int }}|{{ 'x'|int }}|{{ '3.7'|int }}|{{ 3.7|int }}|{{ '2.5'|float }}|{{ 'x'|float }}")
case(g, "{{ [1,2,3]|join('-') }}|{{ [1,2]|first }}|{{ [1,2]|last }}|{{ []|first }}|{{ 'abc'|upper }}|{{ 'ABC'|lower }}|{{ 'ab cd'|title }}|{{ 'ab cd'|capitalize }}|{{ 'aab'|replace('a','x') }}|{{ -3|abs }}")
case(g, "{{ 2.5|round }}|{{ 3.14159|round(2) }}|{{ 3|round }}|{{ 2.1|round(0, 'ceil') }}|{{ 0.5|round }}{{ 1.5|round }}{{ -0.5|round }}{{ 2.675|round(2) }}{{ 1234.5|round(-1) }}")
case(g, "{{ users|map(attribute='name')|join(',') }}|{{ ['a','b']|map('upper')|list }}|{{ users|selectattr('admin')|map(attribute='name')|list }}|{{ users|rejectattr('admin')|list|length }}|{{ users|selectattr('name', 'equalto', 'b')|list }}|{{ users|selectattr('x', 'defined')|list|length }}|{{ users|selectattr('x', 'undefined')|list|length }}", users=[{"name": "a", "admin": True}, {"name": "b", "admin": False, "x": 1}])
case(g, "{{ msgs|selectattr('role', 'equalto', 'user')|list|length }}{{ msgs|map(attribute='role')|unique|list }}{{ msgs|selectattr('role', '==', 'user')|first }}", msgs=[{"role": "user"}, {"role": "b"}, {"role": "user"}])
case(g, "{{ [1,2,3]|select('odd')|list }}{{ [1,2,3]|reject('odd')|list }}{{ [0, 1, '', 'a']|select|list }}")
case(g, "{{ users|map(attribute='x', default='d')|list }}{{ users|map(attribute='a.b')|list }}", users=[{"x": 1, "a": {"b": 2}}, {}])
case(g, "{{ {'b':1,'A':2,'c':0}|dictsort }}|{{ {'b':1,'A':2}|dictsort(true) }}|{{ {'b':1,'a':2}|dictsort(by='value') }}|{{ {'b':1,'a':2}|dictsort(reverse=true) }}|{{ {'a':1}|items|list }}")
case(g, "{{ [3,1,2]|sort }}|{{ [3,1,2]|sort(reverse=true) }}|{{ ['b','A','c']|sort }}|{{ ['b','A','c']|sort(case_sensitive=true) }}|{{ [1,2,1,'A','a']|unique|list }}|{{ [1,2,3]|reverse|list }}|{{ 'abc'|reverse }}|{{ [1,5,3]|max }}|{{ [1,5,3]|min }}|{{ [1,5,3]|sum }}")
case(g, "{{ [{'a': 2}, {'a': 1}]|sort(attribute='a')|map(attribute='a')|list }}")
case(g, "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ '<a>'|e }}|{{ '<a>'|safe }}|{{ [1,2,3,4,5]|batch(2)|list }}|{{ '%s-%s'|format('a', 1) }}")
case(g, "{{ x|tojson }}|{{ x|tojson(indent=2) }}|{{ x|tojson(sort_keys=true) }}|{{ x|tojson(separators=(',', ':')) }}|{{ x|tojson(ensure_ascii=true) }}", x={"b": [1, 2.5, None, True, "é\n\"\\\u0001"], "a": {}, "c": [], "d": {"z": 1}, "e": "😀"})
case(g, "{{ [1,2]|tojson }}{{ 'str'|tojson }}{{ 1.5|tojson }}{{ none|tojson }}{{ (1,2)|tojson }}{{ (0.1*3)|tojson }}")
case(g, "{{ x|tojson(indent=4) }}|{{ y|tojson(indent='\\t') }}|{{ 'x'|tojson(indent=0) }}{{ [1]|tojson(indent=0) }}", x=[{"a": [1, {"b": []}]}, "x"], y={"a": [1]})
case(g, "{{ none|string }}{{ none|trim }}{{ true|string }}{{ [1,2,3]|map('string')|join }}")
case(g, "{{ namespace(a=1)|tojson }}")
case(g, "{{ [1, 'a']|sort }}")

# ---- tests (`is ...`) ----
g = "tests"
case(g, "{{ 1 is number }}{{ true is number }}{{ true is integer }}{{ 1.0 is float }}{{ 1 is integer }}{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ {} is mapping }}{{ [] is sequence }}{{ 'a' is sequence }}{{ {} is sequence }}{{ 1 is sequence }}{{ 'a' is iterable }}{{ 1 is iterable }}{{ none is none }}{{ 'a' is string }}")
case(g, "{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}{{ 1 is eq 1 }}{{ 1 is equalto 2 }}{{ 2 is in [1,2] }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ range is callable }}{{ 1 is not none }}{{ 'upper' is filter }}{{ 'abc' is not string }}")
case(g, "{{ x is string }}{{ x is mapping }}{{ x is sequence }}", x={"a": 1})

# ---- statements ----
g = "statements"
case(g, "{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('a','b') }};{% endfor %}")
case(g, "{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.index }}{{ loop.length }}{% endfor %}")
case(g, "{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}")
case(g, "{% for i in [1,2,3] %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% else %}else{% endfor %}|{% for i in [] %}{% else %}E{% endfor %}")
case(g, "{% for a, b in [(1,2),(3,4)] %}{{ a }}{{ b }}{% endfor %}|{% for x in [[1,2],[3]] %}{% for y in x %}{{ loop.index }}{{ y }}{% endfor %}{{ loop.index }}|{% endfor %}")
case(g, "{% for c in 'héy' %}{{ c }}.{% endfor %}")
case(g, "{% if false %}a{% elif 0 %}b{% elif 1 %}c{% else %}d{% endif %}")
case(g, "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set x %}inner {{ 1 }}{% endset %}[{{ x }}]{% set y | upper %}abc{% endset %}{{ y }}")
case(g, "{% macro m(a, b=2, c='x') %}{{ a }}{{ b }}{{ c }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, c='y') }}|{{ m(1,2,3,4) }}|{{ m() }}")
case(g, "{% macro outer() %}[{{ caller() }}]{% endmacro %}{% call outer() %}body{% endcall %}|{% macro m(x) %}[{{ caller(x) }}]{% endmacro %}{% call(y) m(5) %}got {{ y }}{% endcall %}")
case(g, "{% macro f(x) %}{{ x }}{% if x > 0 %}{{ f(x - 1) }}{% endif %}{% endmacro %}{{ f(3) }}")
case(g, "{% filter upper %}hello {{ 'x' }}{% endfilter %}|{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}")
case(g, "{% raw %}{{ not parsed }}{% endraw %}|{% generation %}gen {{ 1 }}{% endgeneration %}")
case(g, "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %A %B') }}")

# ---- scoping ----
g = "scoping"
case(g, "{% set x = 1 %}{% for i in [1,2] %}{{ x }}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}")
case(g, "{% set ns = namespace(c=0) %}{% for i in [1,2,3] %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }}{{ ns }}")
case(g, "{% set a = 1 %}{% for i in [1] %}{% set a = 2 %}{% for j in [1] %}{{ a }}{% set a = 3 %}{{ a }}{% endfor %}{{ a }}{% endfor %}{{ a }}")
case(g, "{% if true %}{% set y = 1 %}{% endif %}{{ y }}|{% for i in [1] %}{% set z = 1 %}{% endfor %}{{ z }}|")
case(g, "{% set x = 5 %}{% macro f() %}{{ x }}{% endmacro %}{% set x = 6 %}{{ f() }}")
case(g, "{% macro m(ns) %}{% set ns.v = 5 %}{% endmacro %}{% set n = namespace(v=1) %}{{ m(n) }}{{ n.v }}")
case(g, "{% macro m() %}{% for i in [1,2] %}{{ loop.index }}{% endfor %}{% endmacro %}{% for j in [1] %}{{ m() }}{{ loop.index }}{% endfor %}")
case(g, "{% set ns = namespace() %}{% set ns.x = 1 %}{{ ns.x }}{{ ns.y }}")
case(g, "{% set x = 1 %}{% set x.y = 2 %}")
case(g, "{% filter upper %}{% set x = 1 %}{% endfilter %}{{ x }}|{% set y %}{% set x = 1 %}{% endset %}{{ x }}|{% for i in [1] %}{% endfor %}{{ i }}")
case(g, "{% for i in [1,2] %}{% macro m() %}{{ i }}{% endmacro %}{{ m() }}{% endfor %}|{% set i = 'outer' %}{% for i in [1,2] %}{{ i }}{% endfor %}{{ i }}")
case(g, "{% macro m(a) %}{% set a = a + 1 %}{{ a }}{% endmacro %}{{ m(1) }}|{% set messages = messages[1:] %}{{ messages }}", messages=[1, 2, 3])
case(g, "{% macro m() %}x{% endmacro %}{{ m(a=1) }}")
case(g, "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}")

# ---- whitespace control, trim_blocks, lstrip_blocks, newlines ----
g = "whitespace"
case(g, "a\n  {% if true %}\n  b\n  {% endif %}\nc\n")
case(g, "a\n  {%+ if true %}\n  b\n  {% endif +%}\nc")
case(g, "a  {% if true %}x{% endif %}  b")
case(g, "  {{ 1 }}  {% if true %}x{% endif %}\n")
case(g, "line\n    {# comment #}\n    text")
case(g, "a {#- c -#} b|a\n{#- c #}\nb")
case(g, "{% for i in [1,2] %}\n  {{ i }}\n{% endfor %}\n")
case(g, "{% for i in [1,2] -%}\n  {{ i }}\n{%- endfor %}")
case(g, "{{- 'a' -}}\n\n  {{ 'b' }}  \n  {{- 'c' }}")
case(g, "x\r\ny\r\n{% if true %}\r\nz\r\n{% endif %}\r\n")
case(g, "{{ 'a\r\nb' }}|x\n\n")
case(g, "  {% raw %}  {{ x }}  {% endraw %}  |a\n  {%- raw -%}  {{ x }}  {%- endraw -%}\n  b")
case(g, "{% if true %}  \n  x{% endif %}|  {%- if true %}x{% endif %}|\t{% if true %}\tx\n\t{% endif %}\ty")
case(g, "{%- if true -%}\n\n  a  \n\n{%- endif -%}\n\n|a {%- if true %} b {% endif -%} c|text  {%- set x = 1 -%}   more")
case(g, "\u3000 {%- if true %}x{% endif %}")
case(g, "{% if true %}\nyes{% else %}\nno{% endif %}|{{ x }}\n{% if true %}\n{{ y }}\n{% endif %}", x=1, y=2)
case(g, "{% set x = {'a': {'b': 1}} %}{{ x }}{{ {'a': {'b': 1}} }}")

# ---- errors: raise_exception, type errors, syntax errors ----
g = "errors"
case(g, "{{ raise_exception('Exact message: ' + x) }}", x="hé")
case(g, "{{ raise_exception(5) }}")
case(g, "{{ 'x' + 1 }}")
case(g, "{{ 1 + 'x' }}")
case(g, "{{ [1] + (2,) }}")
case(g, "{{ 'x' + {} }}")
case(g, "{{ 1 / 0 }}")
case(g, "{{ 1 < 'a' }}")
case(g, "{{ 1 in 'abc' }}")
case(g, "{{ 'a' in 5 }}")
case(g, "{% for x in n %}{{ x }}{% endfor %}", n=None)
case(g, "{% for x in 5 %}{% endfor %}")
case(g, "{% for a, b in [[1,2,3]] %}{{ a }}{% endfor %}")
case(g, "{{ -u }}")
case(g, "{{ 'x'|nosuchfilter }}")
case(g, "{{ 1 is nosuchtest }}")
case(g, "{% if true %}no end")
case(g, "line1\nline2 {{ 1 + }}")
case(g, "{% for %}")
case(g, "{% endfor %}")
case(g, "{{ 'unterminated }}")
case(g, "a\nb\n{% foo %}")
case(g, "{{ x y }}")
case(g, "{% if x %}{% else %}{% else %}{% endif %}")
case(g, "{{ (1, 2 }}")
case(g, "{% set %}")
case(g, "{# unclosed")
case(g, "{% macro m(a,) %}{{a}}{% endmacro %}")
# Unknown filters/tests: a syntax error, except inside an if or an inline if (then only when reached).
case(g, "{% if 'x' is filter %}{{ v|x }}{% endif %}ok{{ 1|nosuch if false else 2 }}")
case(g, "{% if true %}\n{{ 1|nosuch }}{% endif %}")
case(g, "{% if true %}{% for i in [1] %}\n{{ i|nosuch }}{% endfor %}{% endif %}")
case(g, "{% if true %}{% macro m() %}{{ 1 is nosuch }}{% endmacro %}{% endif %}")
case(g, "a\n{% break %}b")
case(g, "{% for i in [1] %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}x")
case(g, "{% for i in [1, 2] %}{% if true %}{% set x %}{% break %}{% endset %}{% endif %}{{ i }}{% endfor %}y")


class AssistantTracker(jinja2.ext.Extension):
    # transformers' {% generation %} block, reduced to what rendering sees: the body, unchanged.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def environment():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.datetime(2026, 1, 15).strftime(fmt)
    return env


def c_string(s):
    # Octal escapes for everything outside printable ASCII: byte-exact, no raw-string newline games.
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c == "\\" or c == '"':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F and c != "?":
            out.append(c)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def main():
    env = environment()
    lines = [
        "// Generated by tests/chat/make_engine_cases.py from jinja2 %s in transformers' chat-template" % jinja2.__version__,
        "// environment; every expected string is jinja2's own output. Do not edit by hand.",
        "// {group, template, variables (JSON), outcome, expected (rendered text, raised message, or the",
        "//  Python exception class)}",
    ]
    for group, cases in CASES.items():
        for template, variables in cases:
            try:
                outcome, expected = "Outcome::Rendered", env.from_string(template).render(**variables)
            except jinja2.exceptions.TemplateSyntaxError as e:
                outcome, expected = "Outcome::SyntaxError", "line %d: %s" % (e.lineno, e.message)
            except jinja2.exceptions.TemplateError as e:
                if type(e) is jinja2.exceptions.TemplateError:
                    outcome, expected = "Outcome::Raised", str(e)
                else:
                    outcome, expected = "Outcome::Error", type(e).__name__
            except Exception as e:  # TypeError, ZeroDivisionError, ...
                outcome, expected = "Outcome::Error", type(e).__name__
            lines.append("{%s, %s, %s, %s, %s}," % (c_string(group), c_string(template), c_string(json.dumps(variables)),
                                                     outcome, c_string(expected)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "engine_cases.inc")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases to %s" % (len(lines) - 4, path), file=sys.stderr)


if __name__ == "__main__":
    main()
