// selm's Jinja engine against hand-worked expectations: jinja2's semantics with transformers'
// settings (trim_blocks, lstrip_blocks, loop controls, its tojson, raise_exception), Python's
// printing rules, and errors that name the template's origin and line. The live comparison with
// jinja2 itself is text_jinja_reference_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "selm/text/jinja.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm::test {
namespace SELM_UNITY_ID {

using nlohmann::ordered_json;

std::string render(const std::string& source, const ordered_json& context = ordered_json::object()) {
  return jinja::Template::parse(source, "t.jinja").render(context);
}

std::string error_of(const std::string& source, const ordered_json& context = ordered_json::object()) {
  return input_error_of([&] { render(source, context); });
}

std::string parse_error_of(const std::string& source) {
  return input_error_of([&] { jinja::Template::parse(source, "m/tokenizer_config.json (chat_template)"); });
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const ordered_json kUsers = ordered_json::parse(R"([
  {"name": "ann", "active": true, "age": 30},
  {"name": "bob", "active": false, "age": 25},
  {"name": "cy", "active": true, "age": 25}
])");

TEST(TextJinja, TextPassesThroughWithNewlinesNormalised) {
  EXPECT_EQ(render("hello"), "hello");
  EXPECT_EQ(render("hello\n"), "hello");  // one trailing newline is dropped, as jinja2 does
  EXPECT_EQ(render("hello\n\n"), "hello\n");
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
  EXPECT_EQ(render(""), "");
}

TEST(TextJinja, TrimBlocksAndLstripBlocksAsTransformers) {
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\n  y"), "  x\n  y");
  EXPECT_EQ(render("  {{ 'v' }}\n"), "  v");  // print tags are not lstripped
  EXPECT_EQ(render("a\n  {%+ if true %}x{% endif %}"), "a\n  x");  // + keeps the indentation
  EXPECT_EQ(render("{% if true +%}\nx{% endif %}"), "\nx");          // +%} keeps the newline
  EXPECT_EQ(render("a\n  {# note #}\nb"), "a\nb");
  EXPECT_EQ(render("a {% if true %}x{% endif %}"), "a x");  // text before the tag on its line stays
}

TEST(TextJinja, MinusStripsWhitespaceAroundTags) {
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(render("{%- if true -%}\n  x  \n{%- endif -%}\n"), "x");
  EXPECT_EQ(render("a {#- c -#}  b"), "ab");
  EXPECT_EQ(render("a\u3000{%- if true %}b{% endif %}"), "ab");  // Unicode whitespace too
}

TEST(TextJinja, RawBlocksAreNotEvaluated) {
  EXPECT_EQ(render("{% raw %}{{ x }} {% if %}{% endraw %}"), "{{ x }} {% if %}");
  EXPECT_EQ(render("a {%- raw %} b {% endraw -%} c"), "a b c");
}

TEST(TextJinja, ValuesPrintAsPythonPrintsThem) {
  EXPECT_EQ(render("{{ none }} {{ true }} {{ False }} {{ 42 }} {{ -7 }}"), "None True False 42 -7");
  EXPECT_EQ(render("{{ 1.0 }} {{ 0.1 }} {{ 1e16 }} {{ 1e-5 }} {{ 1e15 }} {{ 0.0001 }} {{ 1/3 }} {{ -0.0 }}"),
            "1.0 0.1 1e+16 1e-05 1000000000000000.0 0.0001 0.3333333333333333 -0.0");
  EXPECT_EQ(render("{{ [1, 'a', none, true, 1.5] }}"), "[1, 'a', None, True, 1.5]");
  EXPECT_EQ(render("{{ {'k': 'v', 1: [2]} }}"), "{'k': 'v', 1: [2]}");
  EXPECT_EQ(render("{{ (1,) }} {{ () }} {{ (1, 2) }}"), "(1,) () (1, 2)");
  EXPECT_EQ(render(R"({{ ["it's", 'say "hi"', 'both \' "', 'back\\slash', 'line\nbreak', 'tab\t', '\x01'] }})"),
            R"(["it's", 'say "hi"', 'both \' "', 'back\\slash', 'line\nbreak', 'tab\t', '\x01'])");
  EXPECT_EQ(render(R"({{ ['é', '中', '｜', '\xa0'] }})"), R"(['é', '中', '｜', '\xa0'])");
  EXPECT_EQ(render("{% set ns = namespace(a=1, b='x') %}{{ ns }}"), "<Namespace {'a': 1, 'b': 'x'}>");
  EXPECT_EQ(render("{% macro m() %}{% endmacro %}{{ m }}"), "<Macro 'm'>");
  EXPECT_EQ(render("[{{ nothing }}]"), "[]");
  EXPECT_EQ(render("{{ range(3) }} {{ range(0, 9, 2) }}"), "range(0, 3) range(0, 9, 2)");
  EXPECT_EQ(render("{{ [nothing] }}"), "[Undefined]");
}

TEST(TextJinja, StringLiteralsDecodePythonEscapes) {
  EXPECT_EQ(render(R"({{ '\x41\101\u00e9\d' }}|{{ "a" 'b' }})"), "AA\xC3\xA9\\d|ab");
  EXPECT_EQ(render(R"({{ 'tab\there' }})"), "tab\there");
}

TEST(TextJinja, NumbersFollowPythonArithmetic) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 2 ** 10 }} "
                   "{{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ -7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2 * 3 }} {{ true + 1 }}"),
            "3 -4 -2 2 3.5 2.0 1024 0.5 64 -4.0 0.5 7 2");
  EXPECT_EQ(render("{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 1.5e3 }}"), "31 15 5 1000 1500.0");
  EXPECT_EQ(error_of("{{ 1 / 0 }}"), "t.jinja:1: division by zero");
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"), "t.jinja:1: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(error_of("{{ 1 + 'a' }}"), "t.jinja:1: unsupported operand type(s) for +: 'int' and 'str'");
  EXPECT_TRUE(contains(error_of("{{ '%s' % 1 }}"), "not supported"));
  EXPECT_TRUE(contains(error_of("{{ 9223372036854775807 + 1 }}"), "integer overflow"));
}

TEST(TextJinja, ComparisonsAndLogicAsPython) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ (1, 2) == [1, 2] }} {{ [1, 2] < [1, 3] }} "
                   "{{ 'a' in 'cat' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }}"),
            "True False True False True True False True");
  EXPECT_EQ(render("{{ 0 or 'a' }}|{{ [] and 1 }}|{{ 'x' and 'y' }}|{{ not 0 }}"), "a|[]|y|True");
  EXPECT_EQ(render("{{ 'y' if true else 'n' }}|{{ 'x' if false }}|"), "y||");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ [1] ~ nothing }}"), "a1None[1]");
  EXPECT_EQ(render("{{ -3 | abs }} {{ not nothing is none }}"), "3 True");  // filters bind tighter than - and not
  EXPECT_EQ(error_of("{{ 1 < 'a' }}"), "t.jinja:1: '<' not supported between instances of 'int' and 'str'");
}

TEST(TextJinja, LoopVariables) {
  EXPECT_EQ(render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                   "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }} {% endfor %}"),
            "1032TrueFalse3 2121FalseFalse3 3210FalseTrue3 ");
  EXPECT_EQ(render("{% for x in 'abc' %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}{{ loop.cycle('-', '+') }}"
                   "{% endfor %}"),
            "<a>b-a<b>c+b<c>-");
  EXPECT_EQ(render("{% for x in [1, 1, 2, 1] %}{{ loop.changed(x) }} {% endfor %}"), "True False True True ");
  EXPECT_EQ(render("{% for x in [1, 2] %}{{ loop }}{% endfor %}"), "<LoopContext 1/2><LoopContext 2/2>");
  EXPECT_EQ(render("{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}"),
            "121 122 ");
}

TEST(TextJinja, LoopFilteringElseBreakContinueAndUnpacking) {
  EXPECT_EQ(render("{% for x in range(10) if x is odd %}{{ x }}/{{ loop.index }}/{{ loop.length }} {% endfor %}"),
            "1/1/5 3/2/5 5/3/5 7/4/5 9/5/5 ");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in [0] if x %}x{% else %}none passed{% endfor %}"), "none passed");
  // jinja2 notes that a loop ran at the end of its body: iterations left by break or continue do
  // not count, so else runs after them.
  EXPECT_EQ(render("{% for x in [1, 2] %}{{ x }}{% break %}{% else %} else{% endfor %}"), "1 else");
  EXPECT_EQ(render("{% for x in [1, 2] %}{% continue %}{% else %}else{% endfor %}"), "else");
  EXPECT_EQ(render("{% for x in [1, 2] %}{% if x == 2 %}{% break %}{% endif %}{% else %}else{% endfor %}"), "");
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}"
                   "{% endif %}{{ x }}{% endfor %}"),
            "023");
  EXPECT_EQ(render("{% for x in range(9) %}{% with y = x * 2 %}{% if y == 8 %}{% break %}{% endif %}{{ y }}"
                   "{% endwith %}{% endfor %}"),
            "0246");
  EXPECT_EQ(render("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "b=1;a=2;");
  EXPECT_EQ(render("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}{% for c in 'hé' %}[{{ c }}]{% endfor %}"),
            "ba[h][é]");
  EXPECT_EQ(error_of("{% for a, b in [[1, 2, 3]] %}{% endfor %}"), "t.jinja:1: too many values to unpack (expected 2)");
  EXPECT_EQ(error_of("{% for x in 5 %}{% endfor %}"), "t.jinja:1: 'int' object is not iterable");
}

TEST(TextJinja, SetInsideLoopStaysThereButNamespaceCarriesOut) {
  EXPECT_EQ(render("{% set x = 'outer' %}{% for i in [1, 2] %}{% set x = 'inner' ~ i %}{{ x }} {% endfor %}{{ x }}"),
            "inner1 inner2 outer");
  EXPECT_EQ(render("{% set ns = namespace(total=0) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}"
                   "{% endfor %}{{ ns.total }}"),
            "6");
  EXPECT_EQ(render("{% if true %}{% set y = 1 %}{% endif %}{{ y }}"), "1");
  EXPECT_EQ(render("{% with a = 1 %}{{ a }}{% endwith %}[{{ a }}]"), "1[]");
  EXPECT_EQ(render("{% set text %}hello {{ 'world' }}{% endset %}{{ text | upper }}"), "HELLO WORLD");
  EXPECT_EQ(render("{% set t | trim %}  x  {% endset %}[{{ t }}]"), "[x]");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% filter upper %}a{{ 'b' }}{% endfilter %}"), "AB");
  EXPECT_EQ(error_of("{% set n = 1 %}\n{% set n.a = 2 %}"),
            "t.jinja:2: cannot assign attribute on non-namespace object ('n' is int)");
}

TEST(TextJinja, NameFirstSetInAScopeHidesTheContextUntilSet) {
  // jinja2 resolves names statically: a name the template's top level assigns before reading is
  // that scope's own from its start, so the loop reads it as undefined, not the context's value.
  const ordered_json context = {{"x", "context"}};
  EXPECT_EQ(render("{% for i in [1] %}[{{ x }}]{% endfor %}{% set x = 'later' %}{{ x }}", context), "[]later");
  EXPECT_EQ(render("{{ x }}{% for i in [1] %}[{{ x }}]{% endfor %}{% set x = 'later' %}", context), "context[context]");
  // An assignment in only some branches of an if leaves the name to the enclosing scopes.
  EXPECT_EQ(render("{% for i in [1] %}[{{ x }}]{% endfor %}{% if true %}{% set x = 1 %}{% endif %}", context),
            "[context]");
}

TEST(TextJinja, MacrosTakeDefaultsAndKeywords) {
  EXPECT_EQ(render("{% macro m(a, b=2, c='z') %}[{{ a }}{{ b }}{{ c }}]{% endmacro %}"
                   "{{ m(1) }}{{ m(1, 3) }}{{ m(1, c='q') }}{{ m() }}"),
            "[12z][13z][12q][2z]");
  EXPECT_EQ(render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}"),
            "1(2, 3){'k': 4}");
  EXPECT_EQ(render("{% set x = 1 %}{% macro show() %}{{ x }}{% endmacro %}{{ show() }}{% set x = 2 %}{{ show() }}"),
            "12");
  EXPECT_EQ(render("{% macro count(n) %}{{ n }}{% if n > 0 %}{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(3) }}"),
            "3210");
  EXPECT_EQ(render("{% macro m() %}{{ caller is defined }}{% endmacro %}{{ m() ~ m() }}"), "FalseFalse");
  EXPECT_EQ(error_of("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}"),
            "t.jinja:1: macro 'm' takes not more than 1 argument(s)");
  EXPECT_EQ(error_of("{% macro m(a) %}{% endmacro %}{{ m(b=2) }}"), "t.jinja:1: macro 'm' takes no keyword argument 'b'");
  EXPECT_TRUE(contains(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), "nested more than"));
}

TEST(TextJinja, StringFilters) {
  EXPECT_EQ(render("{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'Hello' | lower }}|{{ 'hello' | upper }}|"
                   "{{ 'hELLO wORLD' | capitalize }}|{{ 'hello-world (x) y' | title }}|"
                   "{{ 'a-b-c' | replace('-', '+') }}|{{ 'a-b-c' | replace('-', '', 1) }}"),
            "a b|a|hello|HELLO|Hello world|Hello-World (X) Y|a+b+c|ab-c");
  EXPECT_EQ(render("{{ 'x' | center(5) }}|{{ 'a\nb' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}|{{ 42 | string }}|"
                   "{{ 'abc' | reverse }}|{{ 'héllo' | length }}"),
            "  x  |a\n  b|  a\n  b|42|cba|5");
  EXPECT_EQ(render("{{ '<b>' | e }}|{{ ('<b>' | safe) + '<i>' }}|{{ ('<b>' | safe) ~ '<i>' }}"),
            "&lt;b&gt;|<b>&lt;i&gt;|<b><i>");
  EXPECT_EQ(render("{{ 'ÉCOLE' | lower }} {{ 'straße' | upper }} {{ 'élan' | capitalize }}"), "école STRASSE Élan");
  EXPECT_TRUE(contains(error_of("{{ 'ǅ' | lower }}"), "U+01C5"));  // outside the case tables: refused
}

TEST(TextJinja, NumberFilters) {
  EXPECT_EQ(render("{{ '42' | int + 1 }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '2.5' | float }} "
                   "{{ 3 | float }} {{ -3 | abs }} {{ 2.675 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} "
                   "{{ 2.1 | round(0, 'ceil') }} {{ 1250 | round(-2) }}"),
            "43 4 0 7 2.5 3.0 3 2.67 2.0 4.0 3.0 1200");
}

TEST(TextJinja, SequenceFilters) {
  EXPECT_EQ(render("{{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} "
                   "{{ [1, 2, 2, 3, 1] | unique | list }} {{ [1, 2, 3] | reverse | list }} {{ [1, 2, 3] | first }} "
                   "{{ [1, 2, 3] | last }} {{ [1, 2, 3] | length }} {{ [1, 2] | count }}"),
            "[1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] [1, 2, 3] [3, 2, 1] 1 3 3 2");
  EXPECT_EQ(render("{{ users | map(attribute='name') | join(', ') }}|"
                   "{{ users | selectattr('active') | map(attribute='name') | list }}|"
                   "{{ users | rejectattr('active') | map(attribute='name') | first }}|"
                   "{{ users | selectattr('age', 'equalto', 25) | list | length }}|"
                   "{{ users | sort(attribute='age,name') | map(attribute='name') | join(' ') }}|"
                   "{{ users | join('/', attribute='age') }}|{{ [1, 2, 3, 4] | select('even') | list }}|"
                   "{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ ['a', 'b'] | map('upper') | list }}|"
                   "{{ users | map(attribute='nick', default='-') | join }}",
                   {{"users", kUsers}}),
            "ann, bob, cy|['ann', 'cy']|bob|2|bob cy ann|30/25/25|[2, 4]|[2, 4]|['A', 'B']|---");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value') }} "
                   "{{ {'b': 1} | items | list }}"),
            "[('a', 2), ('b', 1)] [('b', 1), ('a', 2)] [('b', 1)]");
  EXPECT_EQ(render("{{ missing | default('d') }}|{{ '' | default('e') }}|{{ '' | default('e', true) }}|"
                   "{{ none | d('f') }}|{{ missing | d }}|"),
            "d||e|None||");
  EXPECT_EQ(render("{{ 'ab' | list }} {{ {'k': 1} | list }}"), "['a', 'b'] ['k']");
}

TEST(TextJinja, FilterResultsThatAreGeneratorsBehaveAsGenerators) {
  // map, select, reverse... return Python generators: one pass, always true, and unprintable
  // (Python would print a memory address).
  EXPECT_EQ(render("{% set r = [1, 2] | reverse %}{{ r | list }}{{ r | list }}"), "[2, 1][]");
  EXPECT_EQ(render("{{ 'yes' if [] | select('odd') else 'no' }}"), "yes");
  EXPECT_TRUE(contains(error_of("{{ [1] | map('string') }}"), "printing a generator is not supported"));
}

TEST(TextJinja, TojsonAsTransformersJsonDumps) {
  const ordered_json context = {{"x", ordered_json::parse(R"({"z": 1, "a": [1, 2.5, "é", null, true]})")}};
  EXPECT_EQ(render("{{ x | tojson }}", context), R"({"z": 1, "a": [1, 2.5, "é", null, true]})");
  EXPECT_EQ(render("{{ x | tojson(indent=2) }}", context),
            "{\n  \"z\": 1,\n  \"a\": [\n    1,\n    2.5,\n    \"é\",\n    null,\n    true\n  ]\n}");
  EXPECT_EQ(render("{{ x | tojson(sort_keys=true) }}", context), R"({"a": [1, 2.5, "é", null, true], "z": 1})");
  EXPECT_EQ(render("{{ [1, 2] | tojson(separators=(',', ':')) }}"), "[1,2]");
  EXPECT_EQ(render("{{ 'q\"\\\\ \\n\\x1b' | tojson }}"), R"("q\"\\ \n\u001b")");
  EXPECT_EQ(render("{{ 'é😀' | tojson(ensure_ascii=true) }}"), R"("\u00e9\ud83d\ude00")");
  EXPECT_EQ(render("{{ {'a': [], 'b': {}} | tojson(indent=2) }}"), "{\n  \"a\": [],\n  \"b\": {}\n}");
  EXPECT_EQ(render("{{ (1, 'x') | tojson }} {{ {1: true} | tojson }}"), R"([1, "x"] {"1": true})");
  EXPECT_EQ(error_of("{{ missing | tojson }}"), "t.jinja:1: Object of type Undefined is not JSON serializable");
}

TEST(TextJinja, TestsAsJinja2) {
  EXPECT_EQ(render("{{ 'a' is string }}{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}"
                   "{{ none is none }}{{ {} is mapping }}{{ [] is sequence }}{{ 'a' is iterable }}{{ x is defined }}"
                   "{{ x is undefined }}{{ 6 is divisibleby 3 }}{{ 3 is even }}{{ 3 is odd }}{{ 1 is eq 1 }}"
                   "{{ 1 is in [1] }}{{ true is true }}{{ 1 is true }}{{ 'ab' is lower }}{{ 2 is gt 1 }}"
                   "{{ x is not defined }}"),
            "TrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueFalseTrueTrueTrueTrueFalseTrueTrueTrue");
  EXPECT_EQ(render("{{ {} is sequence }}{{ 1 is sequence }}{{ true is number }}{{ true is integer }}{{ x is iterable }}"),
            "TrueFalseTrueFalseTrue");
}

TEST(TextJinja, SlicingWithNegativeIndicesAndSteps) {
  const ordered_json context = {{"xs", {1, 2, 3, 4, 5}}};
  EXPECT_EQ(render("{{ xs[::-1] }} {{ xs[1:] }} {{ xs[:-2] }} {{ xs[-2:] }} {{ xs[::2] }} {{ xs[4:1:-1] }} "
                   "{{ xs[10:] }} {{ xs[-1] }} {{ xs.0 }}",
                   context),
            "[5, 4, 3, 2, 1] [2, 3, 4, 5] [1, 2, 3] [4, 5] [1, 3, 5] [5, 4, 3] [] 5 1");
  EXPECT_EQ(render("{{ 'héllo'[1:3] }} {{ 'hello'[::-2] }} {{ 'héllo'[1] }} {{ (1, 2, 3)[1:] }}"), "él olh é (2, 3)");
  EXPECT_EQ(render("[{{ xs[9] }}]", context), "[]");
  EXPECT_EQ(error_of("{{ xs[::0] }}", context), "t.jinja:1: slice step cannot be zero");
}

TEST(TextJinja, StringMethods) {
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a b c'.split(' ', 1) }} "
                   "{{ 'a b c'.rsplit(' ', 1) }} {{ 'x</think>y'.split('</think>')[0] }}"),
            "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a b', 'c'] x");
  EXPECT_EQ(render("{{ '\n\nhi\n'.strip('\n') }}|{{ '  hi '.lstrip() }}|{{ ' hi  '.rstrip() }}|"
                   "{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}{{ 'abc'.startswith('b', 1) }}|"
                   "{{ 'abc'.find('c') }}{{ 'abc'.find('z') }}|{{ 'aaa'.count('a') }}|{{ '-'.join(['a', 'b']) }}|"
                   "{{ 'hello world'.title() }}|{{ 'a-b'.replace('-', '+') }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}"),
            "hi|hi | hi|TrueTrueTrue|2-1|3|a-b|Hello World|a+b|ABab");
  EXPECT_EQ(render("{{ 'a.b.c'.rpartition('.') }} {{ 'ab'.center(6, '*') }} {{ 'a\nb'.splitlines() }}"),
            "('a.b', '.', 'c') **ab** ['a', 'b']");
  EXPECT_EQ(error_of("{{ 'a'.zfill(3) }}"), "t.jinja:1: the attribute 'zfill' of str objects is not supported");
}

TEST(TextJinja, DictAndListMethods) {
  const ordered_json context = {{"d", {{"a", 1}, {"b", {2}}}}, {"d2", {{"items", 5}}}, {"xs", {1}}};
  EXPECT_EQ(render("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys() }} {{ d.values() }} "
                   "{{ d.items() }} {{ d.items() | list }}",
                   context),
            "1 None 5 dict_keys(['a', 'b']) dict_values([1, [2]]) dict_items([('a', 1), ('b', [2])]) "
            "[('a', 1), ('b', [2])]");
  // a.b tries the attribute first, a['b'] the item first.
  EXPECT_EQ(render("{{ d2['items'] }} {{ d2.items() | list }}", context), "5 [('items', 5)]");
  EXPECT_EQ(render("{{ [1, 2, 1].count(1) }} {{ [1, 2].index(2) }}"), "2 1");
  // The immutable sandbox: methods that change a list or dict are undefined, and calling one fails.
  EXPECT_EQ(render("[{{ xs.append }}]", context), "[]");
  EXPECT_TRUE(contains(error_of("{{ xs.append(2) }}", context), "access to attribute 'append' of 'list' object is unsafe"));
  EXPECT_TRUE(contains(error_of("{{ d.items }}", context), "memory address"));
}

TEST(TextJinja, AttributeAndItemLookupFollowJinja2) {
  const ordered_json context = {{"m", {{"role", "user"}}}};
  EXPECT_EQ(render("{{ m.role }} {{ m['role'] }} [{{ m.missing }}] {{ m.missing is defined }}", context),
            "user user [] False");
  EXPECT_EQ(error_of("line one\n{{ m.missing.deeper }}", context), "t.jinja:2: 'dict object' has no attribute 'missing'");
  EXPECT_EQ(error_of("{{ nothing.attr }}"), "t.jinja:1: 'nothing' is undefined");
  EXPECT_EQ(error_of("{{ nothing() }}"), "t.jinja:1: 'nothing' is undefined");
  EXPECT_EQ(error_of("{{ 'abc'() }}"), "t.jinja:1: 'str' object is not callable");
  EXPECT_EQ(error_of("{{ nothing + 1 }}"), "t.jinja:1: 'nothing' is undefined");
}

TEST(TextJinja, GlobalsRangeDictNamespace) {
  EXPECT_EQ(render("{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ dict(b=1, a=2) }} "
                   "{% set ns = namespace(a=1) %}{% set ns.b = 2 %}{{ ns.a + ns.b }}"),
            "[0, 1, 2] [1, 4, 7] {'b': 1, 'a': 2} 3");
  EXPECT_TRUE(contains(error_of("{{ range(200000) | length }}"), "Range too big"));
  EXPECT_EQ(error_of("{{ cycler(1) }}"), "t.jinja:1: the global function 'cycler' is not supported");
}

TEST(TextJinja, StrftimeNowFormatsLocalTime) {
  const auto year = [] {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    return std::to_string(local.tm_year + 1900);
  };
  const std::string before = year();
  const std::string rendered = render("{{ strftime_now('%Y') }}");
  EXPECT_TRUE(rendered == before || rendered == year()) << rendered;
  EXPECT_EQ(render("{{ strftime_now('%%|%z|%Z') }}"), "%||");  // a naive datetime has no zone
}

TEST(TextJinja, GenerationBlockRendersItsBodyInItsOwnScope) {
  EXPECT_EQ(render("{% generation %}reply {{ 1 }}{% endgeneration %}"), "reply 1");
  EXPECT_EQ(render("{% generation %}{% set x = 1 %}{% endgeneration %}[{{ x }}]"), "[]");
}

TEST(TextJinja, RaiseExceptionIsTemplateRaised) {
  try {
    render("line\n{{ raise_exception('Roles must alternate') }}");
    ADD_FAILURE() << "no exception";
  } catch (const jinja::TemplateRaised& raised) {
    EXPECT_EQ(raised.template_message(), "Roles must alternate");
    EXPECT_STREQ(raised.what(), "t.jinja:2: template raised: Roles must alternate");
  }
  EXPECT_THROW(render("{{ raise_exception('x') }}"), InputError);
  EXPECT_EQ(error_of("{% macro check() %}\n{{ raise_exception('inside') }}{% endmacro %}{{ check() }}"),
            "t.jinja:2: template raised: inside");
}

TEST(TextJinja, SyntaxErrorsNameOriginAndLine) {
  EXPECT_EQ(error_of("a\n{% for x in xs %}\nbody"),
            "t.jinja:3: unexpected end of template; expected 'endfor' or 'else' (opened at line 2)");
  EXPECT_EQ(error_of("{{ 1 + }}"), "t.jinja:1: unexpected end of print statement '}}'");
  EXPECT_EQ(error_of("{{ 'abc }}"), "t.jinja:1: unexpected char ''' (unterminated string)");
  EXPECT_EQ(error_of("x\n{# never closed"), "t.jinja:2: missing end of comment tag");
  EXPECT_EQ(error_of("{{ (1 }}"), "t.jinja:1: unexpected '}', expected ')'");
  EXPECT_EQ(error_of("{% endif %}"), "t.jinja:1: unexpected 'endif' (no block is open)");
  EXPECT_EQ(error_of("{% break %}"), "t.jinja:1: 'break' outside a for loop");
  EXPECT_EQ(error_of("{% for x in [1] %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}"),
            "t.jinja:1: 'continue' outside a for loop");  // a macro is a function: jinja2 refuses it too
  EXPECT_EQ(error_of("{% for x in [1] %}{% set s %}{% break %}{% endset %}{% endfor %}"),
            "t.jinja:1: 'break' inside a set or filter block within a loop is not supported");
  EXPECT_EQ(error_of("{% macro m(a=1, b) %}{% endmacro %}"), "t.jinja:1: non-default argument follows default argument");
  EXPECT_EQ(error_of("{{ a b }}"), "t.jinja:1: expected end of print statement '}}', got 'b'");
}

TEST(TextJinja, UnsupportedConstructsFailAtParseTimeNamingThem) {
  const std::string origin = "m/tokenizer_config.json (chat_template)";
  EXPECT_EQ(parse_error_of("x\n{{ text | wordwrap(20) }}"), origin + ":2: the filter 'wordwrap' is not supported");
  EXPECT_EQ(parse_error_of("{% include 'other.jinja' %}"), origin + ":1: the 'include' tag is not supported");
  EXPECT_EQ(parse_error_of("\n\n{% extends 'base' %}"), origin + ":3: the 'extends' tag is not supported");
  EXPECT_EQ(parse_error_of("{{ x is sameas none }}"), origin + ":1: the test 'sameas' is not supported");
  EXPECT_EQ(parse_error_of("{{ x | nosuchfilter }}"), origin + ":1: no filter named 'nosuchfilter'");
  EXPECT_EQ(parse_error_of("{% frobnicate %}"), origin + ":1: unknown tag 'frobnicate'");
  EXPECT_EQ(parse_error_of("{% for x in xs recursive %}{% endfor %}"), origin + ":1: recursive for loops are not supported");
  EXPECT_EQ(parse_error_of("{{ f(*args) }}"), origin + ":1: *args and **kwargs in calls are not supported");
}

TEST(TextJinja, ConstantSlicesFoldAsJinja2Folds) {
  // jinja2 computes constant expressions while compiling, slicing through getitem, so a constant
  // slice of a number is undefined; at run time the same slice is Python's TypeError.
  EXPECT_EQ(render("[{{ 1[:2] }}] {{ (1[:2]) is defined }} {{ (1[:2], 2) }}"), "[] False (Undefined, 2)");
  EXPECT_EQ(error_of("{{ x[:2] }}", {{"x", 1}}), "t.jinja:1: 'int' object is not subscriptable");
  EXPECT_EQ(error_of("{% set v = 1[:2] %}"), "t.jinja:1: 'int' object is not subscriptable");  // undefined is not folded
  EXPECT_EQ(error_of("{{ 'abc'[::0] }}"), "t.jinja:1: slice step cannot be zero");
}

TEST(TextJinja, DeepNestingFailsCleanly) {
  const auto nested = [](int depth, const std::string& open, const std::string& inner, const std::string& close) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += open;
    text += inner;
    for (int i = 0; i < depth; ++i) text += close;
    return text;
  };
  EXPECT_EQ(render("{{ " + nested(60, "(", "1", ")") + " }}"), "1");
  EXPECT_TRUE(contains(error_of("{{ " + nested(150, "(", "1", ")") + " }}"), "expressions nested more than 100 deep"));
  EXPECT_TRUE(contains(error_of(nested(150, "{% if true %}", "x", "{% endif %}")), "blocks nested more than 100 deep"));
}

TEST(TextJinja, UnsupportedValuesFailWhenReached) {
  EXPECT_EQ(error_of("{{ 'a'.format(1) }}"), "t.jinja:1: the attribute 'format' of str objects is not supported");
  EXPECT_TRUE(contains(error_of("{{ ['\\u0378'] }}"), "U+0378"));  // is it printable? not in the tables
  EXPECT_TRUE(contains(error_of("{{ 1 .real }}"), "'real' of int objects is not supported"));
}

TEST(TextJinja, ContextKeepsTheKeyOrderOfAnOrderedJson) {
  const std::string source = "{{ tool | tojson }} {% for key in tool %}{{ key }}{% endfor %}";
  ordered_json ordered;
  ordered["tool"] = ordered_json::parse(R"({"z": 1, "a": 2})");
  EXPECT_EQ(render(source, ordered), R"({"z": 1, "a": 2} za)");
  nlohmann::json sorted;  // nlohmann::json sorts keys: the order Python had is lost
  sorted["tool"] = nlohmann::json::parse(R"({"z": 1, "a": 2})");
  EXPECT_EQ(jinja::Template::parse(source, "t.jinja").render(sorted), R"({"a": 2, "z": 1} az)");
  EXPECT_TRUE(contains(input_error_of([] { render("x", ordered_json::array()); }), "must be a JSON object"));
}

TEST(TextJinja, TemplateIsCheapToCopyAndRendersOnSeveralThreads) {
  const jinja::Template original = jinja::Template::parse(
      "{% for m in messages %}{{ loop.index }}:{{ m | upper }};{% endfor %}", "t.jinja");
  const jinja::Template copy = original;
  const ordered_json context = {{"messages", {"a", "b"}}};
  EXPECT_EQ(copy.render(context), "1:A;2:B;");
  EXPECT_EQ(copy.origin(), "t.jinja");
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) results[t] = original.render(context);
    });
  for (auto& thread : threads) thread.join();
  for (const std::string& result : results) EXPECT_EQ(result, "1:A;2:B;");
}

}  // namespace
}  // namespace selm::test
