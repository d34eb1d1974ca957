#!/usr/bin/env python3
"""Writes tests/data/tokenizer_corpus/corpus.txt: the texts the tokenizer golden tests encode.

One JSON string per line (JSONL), so that a case can hold newlines, "\\r\\n", tabs and any other
character. The cases are generated from the word lists and snippets below with a fixed seed, so
the file is reproducible: English prose, code (C++, Python, JSON, shell), Chinese, Japanese and
Korean, emoji (ZWJ sequences, skin tones, flags, keycaps), numbers of every length, dates,
whitespace runs, special-token strings inside text, combining accents and compatibility forms
(for NFC/NFKC), fullwidth forms, other scripts and unusual spaces.

Characters are kept to Unicode 13 and earlier: the regex engines of the implementations compared
(PCRE2, Oniguruma, V8) ship different Unicode versions, and newer letters or symbols would
measure that difference rather than the tokenizers.

    python3 scripts/dev/make_tokenizer_corpus.py [--out PATH] [--seed N]
"""
import argparse
import json
import random
from pathlib import Path

SUBJECTS = ["the baker", "a tired engineer", "my neighbour", "the committee", "our small team", "the old cat",
            "a student from Lyon", "the pilot", "everyone here", "the new intern", "the night nurse", "the river",
            "a quiet librarian", "the server", "this function", "the orchestra", "two farmers", "the museum"]
VERBS = ["repaired", "ignored", "painted", "measured", "described", "carried", "rewrote", "tested",
         "borrowed", "explained", "forgot", "counted", "followed", "cleaned", "designed", "sold"]
OBJECTS = ["the blue bicycle", "a broken clock", "three heavy boxes", "the quarterly report", "a map of the coast",
           "the kitchen table", "an unfinished poem", "the test suite", "forty-two lemons", "the garden gate",
           "a stack of letters", "the backup drive", "every single window", "the wooden bridge"]
ADVERBS = ["carefully", "slowly", "without a word", "twice", "before sunrise", "in a hurry", "again",
           "with great patience", "almost perfectly", "for no reason", "at the last minute"]
PLACES = ["in the morning", "near the station", "after lunch", "during the storm", "on Tuesday",
          "behind the library", "at the harbour", "in late autumn", "under the old oak", "last night"]
CONNECTORS = ["and then", "but", "so", "because", "while", "although", "until", "even though"]
OPENERS = ["Honestly,", "Well,", "In short,", "Surprisingly,", "As expected,", "Meanwhile,", "Later,", "Still,"]
CONTRACTIONS = ["it's", "don't", "we're", "they've", "I'm", "you'll", "she'd", "can't", "won't", "isn't",
                "IT'S", "DON'T", "We'Re", "THEY'VE", "I'M", "YOU'LL", "She'D", "o'clock", "rock 'n' roll"]
QUESTIONS = ["Why did {s} do that?", "Who {v} {o}?", "Is it true that {s} {v} {o}?", "Where is {o} now?",
             "How long does it take?", "What happens if {s} says no?"]

CPP_SNIPPETS = [
    "int main(int argc, char** argv) {{\n  return {n};\n}}",
    "for (std::size_t i = 0; i < {name}.size(); ++i) {{\n    total += {name}[i];\n}}",
    "template <typename T>\nT clamp(T value, T low, T high) {{ return std::max(low, std::min(value, high)); }}",
    "#include <vector>\n#include <string>\n\nstd::vector<std::string> {name};",
    "auto {name} = std::make_unique<Widget>(/*size=*/{n}, \"{word}\");",
    "if ({name} != nullptr && {name}->ready()) {{\n\t{name}->run();\n}} else {{\n\tthrow std::runtime_error(\"not ready\");\n}}",
    "struct Point {{ double x = 0.0; double y = 0.0; }};  // {word}",
    "std::map<int, std::string> {name}{{{{1, \"one\"}}, {{2, \"two\"}}}};",
]
PY_SNIPPETS = [
    "def {name}(x, y={n}):\n    return x * y + {n}",
    "class {Name}:\n    def __init__(self):\n        self.items = []\n\n    def add(self, item):\n        self.items.append(item)",
    "for i, value in enumerate({name}):\n    if value is None:\n        continue\n    print(f\"{{i}}: {{value!r}}\")",
    "with open(\"{word}.txt\", encoding=\"utf-8\") as handle:\n    lines = [line.rstrip(\"\\n\") for line in handle]",
    "result = {{k: v ** 2 for k, v in {name}.items() if v > {n}}}",
    "import numpy as np\n\narray = np.zeros(({n}, {n}), dtype=np.float32)",
    "try:\n    {name}()\nexcept (ValueError, KeyError) as error:\n    raise RuntimeError(\"failed\") from error",
    "lambda a, b: (a + b) / 2  # mean of {word}",
]
JSON_SNIPPETS = [
    "{{\"name\": \"{word}\", \"count\": {n}, \"enabled\": true}}",
    "{{\n  \"model\": \"{word}-{n}b\",\n  \"layers\": [1, 2, 3],\n  \"dropout\": null\n}}",
    "[{{\"id\": {n}, \"tags\": [\"a\", \"b\"]}}, {{\"id\": {m}, \"tags\": []}}]",
    "{{\"path\": \"C:\\\\Users\\\\{word}\\\\file.txt\", \"ratio\": 0.{n}}}",
]
SHELL_SNIPPETS = [
    "ls -la /home/{word}/ | grep -v '^d' | wc -l",
    "export PATH=\"$HOME/.local/bin:$PATH\" && echo $PATH",
    "for f in *.log; do gzip -9 \"$f\"; done",
    "git commit -m \"fix: handle {word} (#{n})\" && git push origin main",
    "curl -s https://example.com/api/v{n}/items?limit=10 | jq '.items[] | .name'",
    "tar -czf backup-$(date +%Y%m%d).tar.gz ./data 2>/dev/null || exit 1",
    "awk -F, '{{ sum += $3 }} END {{ print sum / NR }}' {word}.csv",
]
IDENTIFIERS = ["values", "buffer", "node_count", "userName", "max_len", "queue", "tokens", "cache", "rows", "items"]
WORDS = ["alpha", "beta", "report", "config", "main", "test", "draft", "notes", "delta", "omega"]

CHINESE = ["今天天气很好", "我们一起去公园散步吧", "这个问题比较复杂", "请把文件发给我", "他在北京工作了三年",
           "学习新的语言需要时间", "谢谢你的帮助", "火车晚点了二十分钟", "中文分词是一个有趣的问题", "数据已经保存"]
JAPANESE = ["今日はとても暑いですね", "東京駅で待っています", "ありがとうございました", "この本はおもしろい",
            "カタカナとひらがなを混ぜる", "明日の会議は十時からです", "コーヒーを一杯ください", "日本語の勉強を続けます"]
KOREAN = ["안녕하세요", "오늘 날씨가 정말 좋네요", "한국어를 배우고 있어요", "내일 다시 만나요", "감사합니다",
          "서울에서 부산까지 기차로 갔어요", "이 문제는 어렵지 않아요"]
CYRILLIC = ["Привет, как дела?", "Москва — столица России.", "Это очень интересная книга.", "Съешь же ещё этих мягких булок."]
ARABIC = ["مرحبا بالعالم", "كيف حالك اليوم؟", "اللغة العربية جميلة", "شكرا جزيلا"]
DEVANAGARI = ["नमस्ते दुनिया", "यह एक परीक्षण है", "हिन्दी भाषा", "धन्यवाद"]
GREEK = ["Καλημέρα κόσμε", "Η γλώσσα είναι όμορφη", "ΑΒΓΔ αβγδ"]
HEBREW = ["שלום עולם", "מה שלומך?"]
THAI = ["สวัสดีครับ", "ภาษาไทยไม่มีช่องว่างระหว่างคำ"]

EMOJI = ["😀", "🎉", "🚀", "❤️", "👍", "🙏", "🔥", "✅", "🤖", "🥲", "🧪", "📦", "⚠️", "🌍"]
ZWJ = ["👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🧑‍🚀", "👁️‍🗨️", "❤️‍🔥", "🐻‍❄️", "👩🏽‍🔬"]
SKIN = ["👍🏻", "👍🏽", "👋🏿", "🙌🏼", "🤝🏾"]
FLAGS = ["🇫🇷", "🇯🇵", "🇧🇷", "🇺🇦", "🇰🇪"]
KEYCAPS = ["1️⃣", "#️⃣", "*️⃣", "9️⃣"]

SPECIALS = ["<|im_end|>", "<|im_start|>", "<|endoftext|>", "<bos>", "<eos>", "<s>", "</s>", "<unk>", "<pad>",
            "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<end_of_turn>", "<start_of_turn>", "<think>",
            "</think>", "<tool_call>", "<|fim_prefix|>", "<start_of_image>", "</th>", "<unused12>"]
NEAR_SPECIALS = ["<|im_end|", "<im_end>", "< s>", "</ s>", "<<s>>", "<s >", "<|endoftext", "<bos", "<<bos>>", "<｜end"]

# Accented text written both precomposed and decomposed, and compatibility characters.
COMBINING = ["café", "cafe\u0301", "naïve", "nai\u0308ve", "Ångström", "A\u030angstro\u0308m", "\u212bngstr\u00f6m",
             "Việt Nam", "Vie\u0323\u0302t Nam", "résumé", "re\u0301sume\u0301", "São Paulo", "Sa\u0303o Paulo",
             "Zoë", "Zoe\u0308", "ﬁnance", "ﬂour", "Ⅻ chapters", "x² + y³", "½ cup", "㎏ and ㎞", "Ǆemal",
             "\u1100\u1161\u11a8", "\uac00\u11a8", "ḱ̷", "e\u0301\u0301\u0301", "q\u0307\u0323", "Ⓐⓑⓒ", "ℌℑℜ"]
FULLWIDTH = ["ＡＢＣＤ", "ｈｅｌｌｏ　ｗｏｒｌｄ", "１２３４５", "！？（）", "ﾊﾝｶｸｶﾀｶﾅ", "ＴＯＫＹＯ　２０２０", "＄１００"]
SPACES = ["\u00a0", "\u3000", "\u2009", "\u200b", "\u2002", "\u202f", "\u205f", "\u1680", "\u0085", "\u2028", "\ufeff", "\u180e"]
PUNCT = ["...", "—", "–", "«", "»", "“", "”", "‘", "’", "¿", "¡", "§", "¶", "•", "…", "‰", "†", "©", "®", "™", "°", "±", "×", "÷"]


def sentence(rng: random.Random) -> str:
    s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    if rng.random() < 0.5:
        s += f" {rng.choice(ADVERBS)}"
    if rng.random() < 0.5:
        s += f" {rng.choice(PLACES)}"
    if rng.random() < 0.3:
        s += f", {rng.choice(CONNECTORS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    s = s[0].upper() + s[1:]
    if rng.random() < 0.25:
        s = f"{rng.choice(OPENERS)} {s[0].lower()}{s[1:]}"
    return s + rng.choice([".", ".", ".", "!", "?", ";", "..."])


def english(rng):
    return " ".join(sentence(rng) for _ in range(rng.choice([1, 1, 1, 2])))


def contraction_line(rng):
    words = rng.sample(CONTRACTIONS, 3)
    return f"{words[0].capitalize()} fine, {words[1]} worry; {words[2]} {rng.choice(OBJECTS)}."


def question(rng):
    return rng.choice(QUESTIONS).format(s=rng.choice(SUBJECTS), v=rng.choice(VERBS), o=rng.choice(OBJECTS))


def code(rng):
    table = rng.choice([CPP_SNIPPETS, PY_SNIPPETS, JSON_SNIPPETS, SHELL_SNIPPETS])
    name = rng.choice(IDENTIFIERS)
    return rng.choice(table).format(name=name, Name=name[0].upper() + name[1:], n=rng.randint(0, 999),
                                    m=rng.randint(1000, 99999), word=rng.choice(WORDS))


def digits(rng, length):
    first = str(rng.randint(1, 9))
    return first + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))


def number_line(rng):
    kind = rng.randrange(9)
    if kind == 0:
        return digits(rng, rng.randint(1, 40))
    if kind == 1:
        return f"{digits(rng, rng.randint(1, 7))}.{digits(rng, rng.randint(1, 9))}"
    if kind == 2:
        return f"The total was ${rng.randint(1, 9999):,}.{rng.randint(0, 99):02d} on {rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}."
    if kind == 3:
        return f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/{rng.randint(1990, 2030)} at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if kind == 4:
        return f"-{rng.randint(1, 999)}.{rng.randint(0, 999)}e-{rng.randint(1, 30)} and +{rng.randint(1, 9)}.{rng.randint(0, 9)}E{rng.randint(1, 300)}"
    if kind == 5:
        return f"Call +{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)} or ext. {rng.randint(1, 9999)}"
    if kind == 6:
        return f"version {rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}-rc{rng.randint(1, 9)}"
    if kind == 7:
        return " ".join(digits(rng, n) for n in range(1, rng.randint(3, 14)))
    return f"{rng.randint(1, 100)}% of {rng.randint(1, 10) * 1000} is {rng.randint(10, 99999)}; π≈3.14159, e≈2.71828"


def whitespace_line(rng):
    kind = rng.randrange(8)
    word = lambda: rng.choice(["alpha", "beta", "x", "hello", "World", "42", "end"])
    if kind == 0:
        return " " * rng.randint(1, 24) + word()
    if kind == 1:
        return word() + " " * rng.randint(1, 24)
    if kind == 2:
        return word() + "\t" * rng.randint(1, 6) + word()
    if kind == 3:
        return "".join(rng.choice([" ", "\t", "  ", " \t"]) for _ in range(rng.randint(1, 10)))
    if kind == 4:
        return word() + "\r\n" + word() + "\r\n"
    if kind == 5:
        return word() + "\n" * rng.randint(2, 6) + word()
    if kind == 6:
        return "\n" + " " * rng.randint(1, 8) + word() + "\n\t" + word() + " \n"
    return word() + " \r\n\r\n " + word() + "\t\r\n"


def cjk(rng):
    table = rng.choice([CHINESE, JAPANESE, KOREAN])
    parts = rng.sample(table, rng.randint(1, 3))
    sep = rng.choice(["", "，", "。", " ", "、", "! "])
    text = sep.join(parts)
    if rng.random() < 0.3:
        text += f" ({rng.choice(['test', 'OK', '2024年', 'v2', 'GPU'])})"
    return text + rng.choice(["", "。", "？", "！"])


def other_script(rng):
    table = rng.choice([CYRILLIC, ARABIC, DEVANAGARI, GREEK, HEBREW, THAI])
    text = rng.choice(table)
    if rng.random() < 0.4:
        text += " " + rng.choice([c for t in (CYRILLIC, ARABIC, DEVANAGARI, GREEK, HEBREW, THAI) for c in t])
    if rng.random() < 0.3:
        text = f"{sentence(rng)} {text}"
    return text


def emoji_line(rng):
    pool = EMOJI + ZWJ + SKIN + FLAGS + KEYCAPS
    kind = rng.randrange(4)
    if kind == 0:
        return "".join(rng.choice(pool) for _ in range(rng.randint(1, 8)))
    if kind == 1:
        return f"{sentence(rng)[:-1]} {rng.choice(pool)}{rng.choice(pool)}"
    if kind == 2:
        return " ".join(rng.choice(pool) for _ in range(rng.randint(2, 6)))
    return f"{rng.choice(ZWJ)} at work, {rng.choice(SKIN)} thanks! {rng.choice(FLAGS)} {rng.choice(KEYCAPS)}"


def special_line(rng):
    kind = rng.randrange(7)
    special = rng.choice(SPECIALS)
    if kind == 0:
        return f"{sentence(rng)}{special}"
    if kind == 1:
        return f"{special}{sentence(rng)}"
    if kind == 2:
        return f"{sentence(rng)} {special} {sentence(rng)}"
    if kind == 3:
        return "".join(rng.choice(SPECIALS) for _ in range(rng.randint(2, 5)))
    if kind == 4:
        return f"<|im_start|>user\n{question(rng)}<|im_end|>\n<|im_start|>assistant\n{sentence(rng)}<|im_end|>\n"
    if kind == 5:
        return f"<start_of_turn>user\n{question(rng)}<end_of_turn>\n<start_of_turn>model\n{sentence(rng)}<end_of_turn>"
    return f"{rng.choice(NEAR_SPECIALS)} is not {special}, nor {rng.choice(NEAR_SPECIALS)}"


def combining_line(rng):
    words = rng.sample(COMBINING, rng.randint(1, 3))
    return rng.choice(["", "The word ", "See: "]) + " ".join(words) + rng.choice(["", ".", " — fine"])


def fullwidth_line(rng):
    return f"{rng.choice(FULLWIDTH)} {rng.choice(['and', '与', 'et'])} {rng.choice(FULLWIDTH)}"


def spaces_line(rng):
    space = rng.choice(SPACES)
    kind = rng.randrange(3)
    if kind == 0:
        return f"hello{space}world"
    if kind == 1:
        return f"{space}{rng.choice(['x', 'Start', '42'])}{space}{space}{rng.choice(['y', 'end'])}"
    return f"{rng.choice(CHINESE)}{space}{rng.choice(JAPANESE)}"


def punctuation_line(rng):
    marks = "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 6)))
    return f"{rng.choice(['Wait', 'So', 'Price', 'Note'])}{marks} {rng.choice(OBJECTS)} {rng.choice(PUNCT)}"


def markup_line(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return f"# Heading {rng.randint(1, 9)}\n\n- item **bold** and _italic_\n- `code` [link](https://example.org/{rng.choice(WORDS)})"
    if kind == 1:
        return f"<div class=\"{rng.choice(WORDS)}\"><p>{sentence(rng)}</p></div>"
    if kind == 2:
        return f"$$\\frac{{a_{rng.randint(1, 9)}}}{{b^2}} = \\sum_{{i=0}}^{{n}} x_i$$"
    if kind == 3:
        return f"mailto:{rng.choice(WORDS)}.{rng.choice(WORDS)}@example.com?subject=Hi%20there&n={rng.randint(1, 99)}"
    if kind == 4:
        return "| a | b |\n|---|---|\n| 1 | 2 |"
    return f"/* {sentence(rng)} */ // TODO(#{rng.randint(1, 999)}): {rng.choice(ADVERBS)}"


def control_line(rng):
    return rng.choice(["bell\u0007 and escape\u001b[31mred\u001b[0m", "nul\u0000byte", "form\u000cfeed\u000bvtab",
                       "del\u007f char", "\u0001\u0002\u0003 start"])


def long_line(rng):
    parts = []
    while sum(len(p) for p in parts) < rng.randint(600, 2000):
        parts.append(rng.choice([english, code, cjk, number_line, emoji_line, special_line])(rng))
    return rng.choice([" ", "\n", "\n\n", " | "]).join(parts)


GENERATORS = [
    (english, 30), (contraction_line, 6), (question, 5), (code, 14), (number_line, 12), (whitespace_line, 9),
    (cjk, 10), (other_script, 6), (emoji_line, 6), (special_line, 10), (combining_line, 6), (fullwidth_line, 3),
    (spaces_line, 4), (punctuation_line, 4), (markup_line, 4), (control_line, 1),
]

# Cases worth keeping whatever the generator does.
FIXED = ["", " ", "  ", "\n", "\r\n", "\t", "a", "Hello world", " Hello world", "Hello  world", "hello\n\nworld",
         "'s", "I'm here", "▁already▁spaced", "<s>", "</s>", "<|im_end|>", "<bos>", "<end_of_turn>",
         "<｜end▁of▁sentence｜>", "<|endoftext|>", " <s> ", "1234567890", "3.14159265358979", "\u00a0", "\u3000",
         "x\u3000y", "\u0085", "\n\n\n\n", "\t\t\t\t\t", "Ünïcödé", "e\u0301", "👩‍💻", "你好", "ＡＢＣ",
         # Where regex engines disagree on \s: U+180E is not White_Space (PCRE2's \s includes it).
         "a!\u180e!b", "?\u180e\u180e? x", "\u180e\u3000\u0085 end", "x \u180e", "!!\u00a0!!\u2028??"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[2] / "tests/data/tokenizer_corpus/corpus.txt")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--lines", type=int, default=2100)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    functions = [f for f, weight in GENERATORS for _ in range(weight)]
    cases = list(FIXED)
    while len(cases) < args.lines - 12:
        cases.append(rng.choice(functions)(rng))
    cases.extend(long_line(rng) for _ in range(12))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as out:
        for case in cases:
            line = json.dumps(case, ensure_ascii=False)
            # Characters that some line readers take for line breaks stay escaped.
            for breaker in ("\u0085", "\u2028", "\u2029"):
                line = line.replace(breaker, "\\u%04x" % ord(breaker))
            out.write(line + "\n")
    total = sum(len(c.encode("utf-8")) for c in cases)
    print(f"{args.out}: {len(cases)} cases, {total} bytes of text, {total / len(cases):.0f} bytes per case")


if __name__ == "__main__":
    main()
