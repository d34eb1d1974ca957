// selm's Jinja engine against jinja2 itself: every template here is rendered by both, jinja2 set
// up as transformers sets it up (tests/scripts/render_jinja_reference.py, run with Debian's
// python3-jinja2), and the texts must be identical byte for byte. Where jinja2 raises, the engine
// must fail too: with the same message for raise_exception, and at the same line elsewhere.
//
// Templates: the chat templates of Qwen3, Gemma 3 and DeepSeek-V3 from the fetched tokenizers
// (scripts/fetch_test_data.py), selm's built-in templates (tests/data/chat_templates/*.jinja,
// copies of the sources in src/text/chat_template.cpp), a template of selm's own that uses the
// features models' templates use, and a table of small templates, one construct each.
#include <gtest/gtest.h>

#include <iterator>
#include <optional>

#include <nlohmann/json.hpp>

#include "selm/text/jinja.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm::test {
namespace SELM_UNITY_ID {

using nlohmann::ordered_json;

// Debian's interpreter, which has python3-jinja2 (a python3 earlier on PATH, e.g. pyenv's, may not).
const char* const kPython = "/usr/bin/python3";

struct Request {
  std::string source;
  std::string origin;
  std::vector<ordered_json> contexts;
};

// jinja2's results for each request (one Python run for all of them): per context
// {"output": ...} or {"error": TYPE, "message": ..., "line": ...}.
std::vector<ordered_json> reference_results(const std::vector<Request>& requests) {
  ordered_json batch = ordered_json::array();
  for (const Request& request : requests) batch.push_back({{"template", request.source}, {"contexts", request.contexts}});
  TempDir dir;
  write_text(dir / "request.json", batch.dump());
  const fs::path script = test_data_dir().parent_path() / "scripts" / "render_jinja_reference.py";
  const CommandResult run = run_program(kPython, {script.string(), (dir / "request.json").string(), (dir / "result.json").string()});
  if (run.exit_code != 0) {
    ADD_FAILURE() << "the jinja2 reference failed (is python3-jinja2 installed? apt-get install python3-jinja2):\n"
                  << run.output;
    return {};
  }
  const ordered_json results = ordered_json::parse(read_text(dir / "result.json"));
  return std::vector<ordered_json>(results.begin(), results.end());
}

// What selm's engine makes of the request, in the reference's form (plus "located": the
// InputError's full message).
std::vector<ordered_json> our_results(const Request& request) {
  std::vector<ordered_json> results;
  std::optional<jinja::Template> compiled;
  std::string parse_error;
  try {
    compiled = jinja::Template::parse(request.source, request.origin);
  } catch (const InputError& error) {
    parse_error = error.what();
  }
  for (const ordered_json& context : request.contexts) {
    if (!compiled) {
      results.push_back({{"error", "InputError"}, {"located", parse_error}});
      continue;
    }
    try {
      results.push_back({{"output", compiled->render(context)}});
    } catch (const jinja::TemplateRaised& raised) {
      results.push_back({{"error", "TemplateRaised"}, {"message", raised.template_message()}, {"located", raised.what()}});
    } catch (const InputError& error) {
      results.push_back({{"error", "InputError"}, {"located", error.what()}});
    }
  }
  return results;
}

struct Tally {
  int identical = 0;  // contexts rendered to the same text by both
  int raised = 0;     // contexts where both raised the template's own exception with the same message
  int failed = 0;     // contexts where both failed otherwise
};

// One context: the same text, or both failing (the same message for raise_exception; with
// `check_lines`, selm's message names jinja2's line).
void compare_one(const Request& request, const ordered_json& expected, const ordered_json& actual, bool check_lines,
                 Tally& tally) {
  if (expected.contains("output")) {
    ASSERT_TRUE(actual.contains("output")) << "jinja2 renders, selm fails: " << actual.value("located", "");
    EXPECT_EQ(actual["output"].get<std::string>(), expected["output"].get<std::string>());
    if (actual["output"] == expected["output"]) ++tally.identical;
    return;
  }
  ASSERT_FALSE(actual.contains("output")) << "jinja2 fails (" << expected.dump() << "), selm renders " << actual["output"];
  if (expected["error"] == "TemplateError") {
    EXPECT_EQ(actual["error"], "TemplateRaised");
    EXPECT_EQ(actual.value("message", ""), expected["message"].get<std::string>());
    ++tally.raised;
  } else {
    ++tally.failed;
  }
  if (check_lines && expected["line"].is_number()) {
    const std::string prefix = request.origin + ":" + std::to_string(expected["line"].get<int>()) + ":";
    EXPECT_EQ(actual["located"].get<std::string>().rfind(prefix, 0), 0u)
        << actual["located"] << " should start with " << prefix << " (jinja2: " << expected["message"] << ")";
  }
}

Tally expect_same_as_jinja2(const std::vector<Request>& requests, bool check_lines = false) {
  Tally tally;
  const std::vector<ordered_json> reference = reference_results(requests);
  if (reference.size() != requests.size()) return tally;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const std::vector<ordered_json> ours = our_results(requests[r]);
    for (std::size_t c = 0; c < requests[r].contexts.size(); ++c) {
      SCOPED_TRACE(requests[r].origin + " with " + requests[r].contexts[c].dump());
      compare_one(requests[r], reference[r][c], ours[c], check_lines, tally);
    }
  }
  return tally;
}

ordered_json message(const char* role, const std::string& content) { return {{"role", role}, {"content", content}}; }

// Conversations for chat templates: with and without a system message, one and several turns,
// whitespace at the edges of contents, reasoning in <think>, non-ASCII text, and orders that some
// templates refuse.
std::vector<ordered_json> conversations() {
  return {
      {message("user", "Hi")},
      {message("system", "You are brief."), message("user", "Hi")},
      {message("user", "Hi"), message("assistant", "Hello! How can I help?"), message("user", "Tell me a story")},
      {message("system", "  Spaced system \n"), message("user", "\n\nleading newlines"),
       message("assistant", "  trailing spaces and newlines  \n\n"), message("user", "\tok\t")},
      {message("user", "What is 2+2?"), message("assistant", "<think>\nAdd them.\n</think>\n\nIt is 4."),
       message("user", "And 3+3?"), message("assistant", "<think>more</think>6")},
      {message("user", "Why?"), message("assistant", "\n<think>\n\nreasons\n\n</think>\n\n\nBecause.\n")},
      {message("user", "Unicode: é 中文 ｜ 😀 \u00a0"), message("assistant", "d'accord, \"quoted\" \\ backslash")},
      {message("system", "One."), message("user", "a"), message("assistant", "b"), message("user", "c"),
       message("assistant", "d"), message("user", "e")},
      {message("user", "first"), message("user", "second")},
      {message("assistant", "starts with the assistant")},
  };
}

// Each conversation without and with the generation prompt, plus `extra` variables.
std::vector<ordered_json> contexts_for(const std::vector<ordered_json>& chats, const ordered_json& extra) {
  std::vector<ordered_json> contexts;
  for (const ordered_json& chat : chats) {
    for (const bool add_generation_prompt : {false, true}) {
      ordered_json context = extra;
      context["messages"] = chat;
      context["add_generation_prompt"] = add_generation_prompt;
      contexts.push_back(std::move(context));
    }
  }
  return contexts;
}

// The special-token variables transformers passes (special_tokens_map): the strings of
// tokenizer_config.json, or the content of an AddedToken entry; absent when null.
ordered_json special_tokens(const ordered_json& config) {
  ordered_json tokens = ordered_json::object();
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    if (!config.contains(key)) continue;
    const ordered_json& value = config[key];
    if (value.is_string()) tokens[key] = value;
    else if (value.is_object() && value.contains("content")) tokens[key] = value["content"];
  }
  return tokens;
}

const ordered_json kWeatherTool = ordered_json::parse(R"({
  "type": "function",
  "function": {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                   "required": ["city"]}
  }
})");

// The chat template of a fetched tokenizer, with the contexts for it; false when it is missing.
bool model_request(const std::string& name, Request& request, ordered_json& tokens) {
  const fs::path config_path = real_tokenizer_dir(name) / "tokenizer_config.json";
  if (!fs::is_regular_file(config_path)) return false;
  const ordered_json config = ordered_json::parse(read_text(config_path));
  if (!config.contains("chat_template") || !config["chat_template"].is_string()) {
    ADD_FAILURE() << config_path << " has no chat_template";
    return false;
  }
  request.source = config["chat_template"].get<std::string>();
  request.origin = config_path.string() + " (chat_template)";
  tokens = special_tokens(config);
  request.contexts = contexts_for(conversations(), tokens);
  return true;
}

TEST(TextJinjaReference, Qwen3TemplateMatchesJinja2) {
  Request request;
  ordered_json tokens;
  if (!model_request("qwen3", request, tokens)) return;
  ordered_json no_thinking = tokens;
  no_thinking["enable_thinking"] = false;
  for (ordered_json& context : contexts_for({conversations()[2]}, no_thinking)) request.contexts.push_back(context);
  ordered_json with_tools = tokens;
  with_tools["tools"] = {kWeatherTool};
  for (ordered_json& context : contexts_for({conversations()[0], conversations()[1]}, with_tools))
    request.contexts.push_back(context);
  const ordered_json tool_turns = ordered_json::parse(R"([
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "",
     "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "content": "sunny"},
    {"role": "tool", "content": "20 C"},
    {"role": "assistant", "content": "Sunny, 20 C.", "reasoning_content": "Read the tool output."}
  ])");
  for (ordered_json& context : contexts_for({tool_turns}, with_tools)) request.contexts.push_back(context);
  const Tally tally = expect_same_as_jinja2({request});
  EXPECT_GE(tally.identical, 28);
}

TEST(TextJinjaReference, Gemma3TemplateMatchesJinja2) {
  Request request;
  ordered_json tokens;
  if (!model_request("gemma3", request, tokens)) return;
  // Gemma's template also takes contents as lists of typed parts.
  const ordered_json parts = ordered_json::parse(R"([
    {"role": "system", "content": [{"type": "text", "text": "  Be exact. "}]},
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " What is this? "}]}
  ])");
  for (ordered_json& context : contexts_for({parts}, tokens)) request.contexts.push_back(context);
  const Tally tally = expect_same_as_jinja2({request});
  EXPECT_GE(tally.identical, 18);
  EXPECT_EQ(tally.raised, 4);  // roles that do not alternate
}

TEST(TextJinjaReference, DeepSeekV3TemplateMatchesJinja2) {
  Request request;
  ordered_json tokens;
  if (!model_request("deepseek_v3", request, tokens)) return;
  const ordered_json tool_turns = ordered_json::parse(R"([
    {"role": "system", "content": "Use tools."},
    {"role": "system", "content": "Second system part."},
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
      {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
    {"role": "tool", "content": "sunny"},
    {"role": "tool", "content": "rain"},
    {"role": "assistant", "content": "Paris sunny, Rome rain."}
  ])");
  for (ordered_json& context : contexts_for({tool_turns}, tokens)) request.contexts.push_back(context);
  const Tally tally = expect_same_as_jinja2({request});
  EXPECT_GE(tally.identical, 22);
}

TEST(TextJinjaReference, BuiltinTemplatesMatchJinja2) {
  std::vector<Request> requests;
  const ordered_json tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
  for (const char* name : {"zephyr", "llama2", "chatml", "plain"}) {
    const fs::path path = test_data_dir() / "chat_templates" / (std::string(name) + ".jinja");
    requests.push_back({read_text(path), path.string(), contexts_for(conversations(), tokens)});
  }
  const Tally tally = expect_same_as_jinja2(requests);
  EXPECT_GE(tally.identical, 76);
  EXPECT_EQ(tally.raised, 4);  // llama2 refuses roles that do not alternate
}

TEST(TextJinjaReference, FeatureTemplateMatchesJinja2) {
  const fs::path path = test_data_dir() / "chat_templates" / "selm_features.jinja";
  Request request{read_text(path), path.string(), contexts_for(conversations(), {{"bos_token", "<s>"}})};
  std::vector<ordered_json> more = contexts_for(
      {{message("user", "a"), message("system", "late system")}, {message("user", "  "), message("assistant", "b")}},
      ordered_json::object());
  ordered_json with_tools = {{"bos_token", ""}, {"tools", {{{"name", "search"}, {"parameters", {{"q", "string"}}}}, {{"name", "calc"}}}}};
  for (ordered_json& context : contexts_for({conversations()[2]}, with_tools)) more.push_back(context);
  request.contexts.insert(request.contexts.end(), more.begin(), more.end());
  const Tally tally = expect_same_as_jinja2({request}, /*check_lines=*/true);
  EXPECT_GE(tally.identical, 22);
  EXPECT_EQ(tally.raised, 4);  // two user turns in a row; a system message that is not first
}

// One construct per template (semantics the chat templates above may not reach).
struct Construct {
  const char* source;
  const char* context;  // JSON object
};

const Construct kConstructs[] = {
    // whitespace control, comments, raw
    {"  {% if true %}\n  x\n  {% endif %}\n  y", "{}"},
    {"{% if true -%}\n  x  \n  {%- endif %}\n  y", "{}"},
    {"a\n  {%+ if true %}x{% endif %}\n{% if true +%}\nz{% endif %}", "{}"},
    {"a\n  {# c #}\nb {#- d -#}  e\n  {#+ f +#}\ng", "{}"},
    {"{% raw %}{{ x }}{% endraw %}\n{%- raw -%}  {{ y }}  {%- endraw %}\nz\n  {% raw %}\n  a\n  {% endraw %}\nb", "{}"},
    {"a\u3000{%- if true %}b{% endif -%}\u3000\u00a0c\n\t  {# c #}  \nd", "{}"},
    {"a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n\r\n", "{}"},
    {"{%- set x = 1 -%}\n   {{ x }}   \n   {%- set y = 2 %}  \n  {{ y }}{{'}}'}}{{ \"%}\" }}", "{}"},
    // printing values
    {"{{ 1 }}{{ none }}{{ true }}{{ 1.0 }}{{ 0.1 }}{{ 1e16 }}{{ 1e-5 }}{{ 123456789.123 }}{{ 1e300 * 1e10 }}{{ -0.0 }}", "{}"},
    {"{{ [1, 'a', none, true, 1.5, [], {}] }}{{ {'k': 'v', 1: 2} }}{{ (1,) }}{{ () }}{{ (1, 2) }}", "{}"},
    {"{{ [\"it's\", 'q\\\"', 'b\\\\s', 'n\\nl', '\\x01', 'é', '\\u3000', '中', '\\x80', '\\u200b', '😀'] }}", "{}"},
    {"{{ x }} {{ x.f }} {{ x.n }} {{ x.b }}", R"({"x": {"f": 2.5, "n": null, "b": false, "l": [1e-7, 100.0]}})"},
    // scopes
    {"{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}", "{}"},
    {"{% for j in [1] %}[{{ x }}]{% endfor %}{% set x = 1 %}{{ x }}", R"({"x": "ctx"})"},
    {"{% for j in [1] %}[{{ x }}]{% endfor %}{% if a %}{% set x = 1 %}{% elif b %}{% set x = 3 %}{% else %}"
     "{% set x = 2 %}{% endif %}",
     R"({"x": "ctx"})"},
    {"{% for i in [1,2] %}{% macro m() %}[{{ x }}]{% endmacro %}{{ m() }}{% set x = i %}{{ m() }}{% endfor %}",
     R"({"x": "ctx"})"},
    {"{% macro m() %}[{{ x }}]{% endmacro %}{% for i in [1] %}{{ m() }}{% set x = 1 %}{{ m() }}{% endfor %}",
     R"({"x": "ctx"})"},
    {"{% set y %}{% for j in [1] %}[{{ x }}]{% endfor %}{% set x = 1 %}{% endset %}{{ y }}{% with %}{% set z = 1 %}"
     "{% endwith %}{{ z }}",
     R"({"x": "ctx", "z": "ctx"})"},
    {"{% set ns = namespace(c=0) %}{% for x in [1,2,3,4] if ns.c < 2 %}{% set ns.c = ns.c + 1 %}{{ x }}"
     "{{ loop.last }}{% endfor %}",
     "{}"},
    // loops
    {"{% for x in 'abc' %}{{ loop.previtem }}-{{ x }}-{{ loop.nextitem }}|{{ loop.cycle('o','e') }}{% endfor %}", "{}"},
    {"{% for x in items %}{{ loop.changed(x) }}{{ loop.revindex }}{% endfor %}{{ loop }}", R"({"items": [1,1,2]})"},
    {"{% set r = [1,2,3]|reverse %}{% for x in r %}{{ x }}{{ loop.length }}{% endfor %}{% for x in r %}{{ x }}"
     "{% endfor %}",
     "{}"},
    {"{% for a, b in [[1,2],[3,4]] %}{{ a }}{{ b }}{% endfor %}{% for a, b in ['xy'] %}{{ b }}{{ a }}{% endfor %}"
     "{% for (a, b) in [(1, 2)] %}{{ a + b }}{% endfor %}",
     "{}"},
    {"{% for i in range(3) %}{% for j in range(2) %}{% if j == 1 %}{% break %}{% endif %}{{ i }}{{ j }}{% endfor %}"
     "{% endfor %}{% for x in [] if x %}a{% else %}b{% endfor %}",
     "{}"},
    {"{% for x in [1, 2] %}{{ x }}{% break %}{% else %} else{% endfor %}|{% for x in [1, 2] %}{% continue %}{% else %}"
     "else{% endfor %}|{% for x in [1, 2] %}{% if x == 2 %}{% continue %}{% endif %}{% else %}else{% endfor %}",
     "{}"},
    // constant folding: a constant slice jinja2 computes while compiling
    {"[{{ 1[:2] }}] {{ (1[:2]) is defined }} {{ (1[:2], 2) }} {{ [1,2]['a':] }} {{ (1[:2])|default('d') }}", "{}"},
    {"{{ x[:2] }}", R"({"x": 1})"},
    {"{% set v = 1[:2] %}", "{}"},
    // macros
    {"{% macro m(a, b=a, c='z') %}[{{ a }}{{ b }}{{ c }}]{% endmacro %}{{ m(1) }}{{ m(1, c='q') }}{{ m() }}{{ m }}",
     "{}"},
    {"{% macro m(a) %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", "{}"},
    {"{% macro outer() %}{% for i in [1,2] %}{{ inner(i) }}{% endfor %}{% endmacro %}{% macro inner(v) %}<{{ v }}>"
     "{% endmacro %}{{ outer() }}",
     "{}"},
    // operators
    {"{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} "
     "{{ 2 ** 3 ** 2 }} {{ 5 // 0.5 }} {{ true + true }} {{ -true }} {{ 0.1 + 0.2 }} {{ 10 ** 18 }}",
     "{}"},
    {"{{ 'a' ~ 1 ~ none ~ [1] }}{{ 'ab' * 3 }}{{ [1] * 2 }}{{ [1] + [2] }}{{ (1,) + (2,) }}{{ 1 if 2 > 1 else 3 }}",
     "{}"},
    {"{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'a' in 'cat' }}{{ 2 not in [1,2] }}{{ 'k' in {'k': 1} }}{{ 1 == true }}"
     "{{ [2] > [1, 5] }}{{ none == false }}{{ '1' == 1 }}{{ (1,2) == [1,2] }}{{ 0 or 'a' }}{{ [] and 1 }}",
     "{}"},
    // filters
    {"{{ '  a b  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'hELLO wORLD'|capitalize }}|{{ 'hello   world-foo(bar)[baz]<q>'|title }}"
     "|{{ 'ÉCOLE élève'|title }}|{{ 'ß'|upper }}|{{ 'ÀÉÎ'|lower }}",
     "{}"},
    {"{{ [3,1,2]|sort }}{{ ['b','A','c']|sort }}{{ ['b','A','c']|sort(case_sensitive=true) }}{{ [{'n':2},{'n':1}]|sort(attribute='n') }}",
     "{}"},
    {"{{ users|sort(attribute='age,name')|map(attribute='name')|list }}{{ users|sort(attribute='name', reverse=true)|map(attribute='name')|join(',') }}"
     "{{ users|unique(attribute='age')|map(attribute='name')|list }}{{ users|map(attribute='nick', default='?')|list }}",
     R"({"users": [{"name": "b", "age": 2}, {"name": "a", "age": 2, "nick": "A"}, {"name": "C", "age": 1}]})"},
    {"{{ users|selectattr('age', 'equalto', 2)|map(attribute='name')|list }}{{ users|rejectattr('nick')|list|length }}"
     "{{ users|join(', ', attribute='name') }}{{ [1,2,3,4]|select('even')|list }}{{ [1,2,3,4]|reject('odd')|list }}"
     "{{ ['a','b']|map('upper')|list }}{{ [1, 2]|map('string')|join }}",
     R"({"users": [{"name": "b", "age": 2}, {"name": "a", "age": 2, "nick": "A"}, {"name": "C", "age": 1}]})"},
    {"{{ {'b': 2, 'a': 3, 'C': 1}|dictsort }}{{ {'b': 2, 'a': 3, 'C': 1}|dictsort(by='value') }}"
     "{{ {'b': 2, 'a': 3, 'C': 1}|dictsort(true) }}{{ {'b': 2, 'a': 3}|dictsort(reverse=true) }}{{ {'b': 1}|items|list }}",
     "{}"},
    {"{{ ['a','A','b']|unique|list }}{{ ['a','A','b']|unique(true)|list }}{{ [1,2,3]|reverse|list }}{{ 'abc'|reverse }}"
     "{{ {'a':1,'b':2}|first }}{{ {'a':1,'b':2}|last }}{{ 'xyz'|first }}{{ []|first }}|{{ 'héllo'|length }}{{ [1,2]|count }}",
     "{}"},
    {"{{ x|default('d') }}{{ ''|default('e', true) }}{{ none|default('f') }}{{ x|d('g') }}{{ false|default('h') }}"
     "{{ none|d('n', boolean=true) }}",
     "{}"},
    {"{{ ' 42 '|int }}{{ '0x1A'|int(0, 16) }}{{ '1_000'|int }}{{ '1e3'|int }}{{ '-7.9'|int }}{{ 'abc'|int }}{{ none|int }}"
     "{{ true|int }}{{ 3.99|int }}{{ '+5'|int }}{{ '5_'|int }}",
     "{}"},
    {"{{ ' 1.5 '|float }}{{ '1e3'|float }}{{ 'inf'|float }}{{ '-nan'|float }}{{ 'x'|float }}{{ '1_0.5'|float }}"
     "{{ '.5'|float }}{{ '5.'|float }}{{ none|float }}{{ -3|abs }}{{ -2.5|abs }}",
     "{}"},
    {"{{ 2.675|round(2) }}{{ 0.5|round }}{{ 1.5|round }}{{ -0.5|round }}{{ 1234|round(-2) }}{{ 1250|round(-2) }}"
     "{{ 1350|round(-2) }}{{ 5|round }}{{ 2.12|round(1, 'floor') }}{{ -2.1|round(0, 'ceil') }}{{ 1e20|round(2) }}",
     "{}"},
    {"{{ 'a\\n\\nb\\n'|indent(3) }}|{{ ''|indent }}|{{ 'x'|indent('> ', true) }}|{{ 'a\\r\\nb'|indent }}|"
     "{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'ab'|center(5) }}|{{ 'ab'|center(6) }}|{{ 'abc'|center(6) }}|",
     "{}"},
    {"{{ ('<b>'|safe) + '<i>' }}{{ '<i>' + ('<b>'|safe) }}{{ '<x>\"&\\''|e }}{{ ('<b>'|safe) ~ '<i>' }}{{ '&'|escape|escape }}"
     "{{ ('x'|safe) is escaped }}{{ 'x' is escaped }}",
     "{}"},
    {"{{ 'a-b-c'|replace('-', '+') }}{{ 'aaa'|replace('a', 'b', 2) }}{{ 123|replace('2', 'x') }}{{ [1,2]|join('-') }}"
     "{{ 'ab'|list }}{{ [1,2]|string }}{{ {'a':1}|list }}{{ 1.5|string }}",
     "{}"},
    // tojson
    {"{{ x|tojson }}|{{ x|tojson(indent=2) }}|{{ x|tojson(sort_keys=true, indent=1) }}|{{ x|tojson(separators=(',', ':')) }}",
     R"({"x": {"z": 1, "a": [1, 2.5, "s\u00e9\n\"\\", null, true, {}, []], "m": {"y": 1e-7, "b": 100.0}}})"},
    {"{{ 'é😀\\x1b\\x7f'|tojson }}|{{ 'é😀\\x1b\\x7f'|tojson(ensure_ascii=true) }}|{{ [1.0, 1e20, -0.0]|tojson }}|"
     "{{ {1: 'a', true: 'b', none: 'c'}|tojson }}|{{ (1,2)|tojson }}|{{ [1,[2,[]]]|tojson(indent='\\t') }}|"
     "{{ {'a':1}|tojson(indent=0) }}",
     "{}"},
    // tests
    {"{{ x is string }}{{ x is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ none is none }}"
     "{{ {} is mapping }}{{ [] is sequence }}{{ 'a' is iterable }}{{ 4 is divisibleby 2 }}{{ 3 is even }}{{ 1 is eq 1 }}"
     "{{ 1 is in [1] }}{{ y is undefined }}{{ y is sequence }}{{ y is iterable }}{{ range is callable }}{{ 'aB' is lower }}"
     "{{ 'trim' is filter }}{{ 'odd' is test }}{{ 2 is ge 2 }}{{ 1 is lessthan 2 }}{{ true is number }}{{ true is integer }}",
     R"({"x": "s"})"},
    // slicing and lookups
    {"{{ m[::-1] }}{{ m[1:] }}{{ m[-1] }}{{ 'hello'[1:4] }}{{ 'hello'[::-2] }}{{ 'hello'[-3:] }}{{ m[5:] }}{{ m[-5:2] }}"
     "{{ 'héllo'[1] }}{{ 'héllo'[1:3] }}{{ 'héllo'[::-1] }}{{ range(10)[::-2] }}{{ range(5)[1:3] }}",
     R"({"m": [1, 2, 3]})"},
    {"{{ d.missing }}|{{ d['missing'] }}|{{ l[5] }}|{{ none.x }}|{{ 'abc'.nothing }}|{{ [1].nothing }}|{{ d.items is defined }}"
     "|{{ d['items'] }}|{{ d.get('items') }}|{{ m[0]['role'] }}{{ m[0].role }}{{ m.0.role }}",
     R"({"d": {"items": 5}, "l": [1], "m": [{"role": "user"}]})"},
    // string methods
    {"{{ 'a,b,,c'.split(',') }}{{ '  a  b  '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a b c'.rsplit(' ', 1) }}"
     "{{ '  a  b  c  '.split(None, 1) }}{{ '  a  b  c  '.rsplit(None, 1) }}{{ ''.split() }}{{ ''.split(',') }}",
     "{}"},
    {"{{ '\\n\\nabc\\n'.strip('\\n') }}|{{ 'abc'.startswith('a') }}{{ 'abc'.endswith(('x','c')) }}{{ 'abc'.startswith('', 4) }}"
     "{{ 'abc'.endswith('c', 1, 5) }}{{ 'abc'.find('c') }}{{ 'abc'.find('', 5) }}{{ 'abc'.count('') }}{{ 'abc'.replace('', '-') }}"
     "{{ 'abc'.replace('', '-', 2) }}{{ 'aaa'.count('a') }}{{ '-'.join(['a','b']) }}",
     "{}"},
    {"{{ 'Hello World'.title() }}{{ \"they're bill's\".title() }}{{ 'aBC'.capitalize() }}{{ 'a\\nb\\r\\nc'.splitlines() }}"
     "{{ 'abc'.center(9, '*') }}{{ 'abc'.ljust(5) }}|{{ 'abc'.rjust(5, '0') }}{{ 'a.b.c'.rpartition('.') }}{{ 'abc'.index('b') }}"
     "{{ 'abc'.removeprefix('a') }}{{ '12'.isdigit() }}{{ ' '.isspace() }}{{ 'héllo'.find('l') }}",
     "{}"},
    {"{{ d.get('a') }}{{ d.get('z', 5) }}{{ d.keys() }}{{ d.values() }}{{ d.items() }}{{ [1,2,1].count(1) }}"
     "{{ [1,2].index(2) }}{{ dict(b=1, a=2) }}{{ dict({'x': 1}, y=2) }}{{ {'a': 1, 'a': 2} }}",
     R"({"d": {"a": 1, "b": [2]}})"},
    // globals, namespace, generation
    {"{% set ns = namespace(inner=namespace(v=1)) %}{% set ns.inner.v = 2 %}{{ ns.inner.v }}{% set n2 = namespace({'k': 1}, j=2) %}"
     "{{ n2.k }}{{ n2.j }}{{ n2 }}{{ n2['k'] }}{{ range(3) }}{{ range(0, 10, 3)|list }}",
     "{}"},
    {"{% generation %}gen {{ 1 }}{% set g = 1 %}{% endgeneration %}[{{ g }}]{% filter upper %}hello {{ 'x' }}{% endfilter %}"
     "{% set t | trim %}  y  {% endset %}{{ t }}{% print 'p', 1 %}",
     "{}"},
    // failures jinja2 shares (the line must match)
    {"a\n{{ x.y }}", "{}"},
    {"a\n{% for m in messages %}\n{{ m.a.b.c }}\n{% endfor %}", R"({"messages": [{"a": {}}]})"},
    {"x\n{{ 'a' +\n 1 }}", "{}"},
    {"a\n\n{% if true %}\n  {{ 1 // 0 }}\n{% endif %}", "{}"},
    {"{% set ns = 1 %}\n{% set ns.a = 2 %}", "{}"},
    {"{% for a, b in [[1,2,3]] %}{% endfor %}", "{}"},
    {"l1\n{% macro m() %}\n{{ raise_exception('in macro') }}\n{% endmacro %}\nl5\n{{ m() }}", "{}"},
    {"{{ foo() }}", "{}"},
    {"{{ xs.append(1) }}", R"({"xs": [1]})"},
    {"{% for x in [1] %}\n{% endfor %}\n{{ 1 < 'a' }}", "{}"},
    {"{% macro m(a) %}{% endmacro %}\n{{ m(1, 2) }}", "{}"},
    {"{{ 'x' }\n}}", "{}"},
    {"{{ (1 }}", "{}"},
    {"\n{% endif %}", "{}"},
    {"{% macro m(a=1, b) %}{% endmacro %}", "{}"},
};

TEST(TextJinjaReference, ConstructsMatchJinja2) {
  std::vector<Request> requests;
  for (std::size_t i = 0; i < std::size(kConstructs); ++i)
    requests.push_back({kConstructs[i].source, "construct" + std::to_string(i) + ".jinja",
                        {ordered_json::parse(kConstructs[i].context)}});
  const Tally tally = expect_same_as_jinja2(requests, /*check_lines=*/true);
  EXPECT_GE(tally.identical, 55);
  EXPECT_GE(tally.failed, 17);
  EXPECT_GE(tally.raised, 1);
}

}  // namespace
}  // namespace selm::test
