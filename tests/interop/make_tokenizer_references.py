"""Makes tokenizer references with the Hugging Face `tokenizers` library (the Rust implementation
Lathe's C++ reader must match): small tokenizers trained or built here cover every component Lathe
reads (BPE with "a b" and pair merges, byte fallback, ignore_merges, subword prefix/suffix, unk fusing;
WordPiece; Unigram; each normalizer, pre-tokenizer, post-processor and decoder; added tokens with each
flag). Each goes to OUT_DIR/NAME/ as tokenizer.json plus references.json:

  {"name": ..., "cases": [{"hex": UTF-8 input as hex (may be invalid UTF-8), "text": the same as text
   after invalid sequences are replaced by U+FFFD (what Python callers hand the library),
   "ids", "offsets", "ids_special", "offsets_special", "special_tokens_mask",
   "decoded", "decoded_skip" (decode of ids_special without / with skip_special_tokens),
   "decoded_prefix" (decode of the first half of ids_special: may cut a UTF-8 sequence)}],
   "vocab_size": get_vocab_size(with_added_tokens=True),
   "added_tokens": [[content, token_to_id(content), id_to_token(id), special], ...]}

Offsets are BYTE offsets into the input bytes (the library reports character offsets into the
replaced text; this script converts them, mapping each U+FFFD back onto the bytes it replaced).

usage: make_tokenizer_references.py OUT_DIR
"""
import codecs
import json
import random
import sys
from pathlib import Path

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

CORPUS = [
    "Hello world! The quick brown fox jumps over the lazy dog.",
    "I'm sure we'll see they've done it, can't you?",
    "naïve café résumé déjà vu, Straße, ÀÉÎÕÜ àéîõü, ñandú",
    "日本語のテキストと中文字符, 한국어 텍스트",
    "numbers 1234567 3.14159 2024-01-01 42",
    "def f(x):\n    return x**2  # comment\n",
    "emoji 🤗🚀 mix 👍 and more text here",
    "tabs\tand\nnewlines\r\n and   runs of   spaces",
    "Tokenization of UNKNOWN-words, punctuation... (yes) [no] {maybe}",
    "lower UPPER MiXeD Title Case words",
    "the world and the WORLD, hello hello world",
] * 20

def random_strings(n=40, seed=7):
    """Random text mixing ASCII, whitespace runs, Latin-1, combining marks, CJK, Hangul jamo, emoji,
    controls and the added tokens' contents (fixed seed: the references never change)."""
    rng = random.Random(seed)
    pools = [(0x20, 0x7E), (0x20, 0x20), (0x09, 0x0D), (0xA0, 0x17F), (0x300, 0x36F), (0x4E00, 0x4E2F),
             (0x1100, 0x1175), (0xAC00, 0xAC40), (0x1F600, 0x1F64F), (0x00, 0x1F), (0xFF01, 0xFF5E), (0x2000, 0x206F)]
    words = ["<special>", "[lstrip]", "[rstrip]", "[both]", "hello", "WoRlD", "MiXeD", "the", "world", "  ", "\n"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, 25)):
            if rng.random() < 0.15:
                parts.append(rng.choice(words))
            else:
                lo, hi = rng.choice(pools)
                parts.append(chr(rng.randint(lo, hi)))
        out.append("".join(parts))
    return out


STRINGS = [
    "Hello world",
    "  leading and trailing  ",
    "multiple   spaces\t\ttabs\n\nnewlines\r\n",
    "naïve café résumé",
    "e\u0301 combining a\u0308 o\u0302\u0323",
    "Å Ω ﬁ ① ２ ｶ ﾞ ㍿",
    "日本語のテキスト 中文字符 한국어",
    "emoji 🤗🚀👨\u200d👩\u200d👧 mix",
    "numbers 1234567 3.14159 ٣٤٥ ½",
    "punctuation!!! (a), [b]; {c}: \"d\" 'e' ... ¿¡ — «»",
    "I'm can't we'll they've DON'T",
    "UPPER lower MiXeD İstanbul ΣΑΣ",
    "<special>text<special>",
    "text <special> text",
    "a [lstrip]  b",
    "a  [rstrip]  b",
    "x  [both]  y",
    "hello world hellohello hello_ hello.",
    "the WoRlD and world and MiXeD mixed",
    "",
    " ",
    "\u00a0nbsp\u3000ideographic\u2009thin",
    "\x00control\x07chars\u200bzw\ufeff",
    "a" * 60,
    "supercalifragilisticexpialidocious",
    b"abc\xff\xfedef",
    b"caf\xc3",
    b"\xe2\x82 x \xf0\x9f\x98",
    b"\xed\xa0\x80 surrogate \xc0\xaf",
    "\u1100\u1161\u11a8 jamo \uac00\u11a8 ẞ ǅ ﬀ",
    "<SPECIAL><SPE <SPECIAL [NL] x[NL]y ÿÉ aÿÉ ÿÉ!",
    "abcabab ab_ab",
] + random_strings()

ADDED = [
    AddedToken("<special>", special=True, normalized=False),
    AddedToken("[lstrip]", lstrip=True, special=False, normalized=False),
    AddedToken("[rstrip]", rstrip=True, special=False, normalized=False),
    AddedToken("[both]", lstrip=True, rstrip=True, special=True, normalized=False),
    AddedToken("hello", single_word=True, special=False, normalized=True),
    AddedToken("WoRlD", special=False, normalized=True),
    AddedToken("MiXeD", special=False, normalized=False),
]


def decode_with_map(raw: bytes):
    """Decodes like bytes.decode('utf-8', 'replace') and maps each character index (and the end) to
    its byte offset in raw."""
    errors = []

    def record(exc):
        errors.append((exc.start, exc.end))
        return ("\ufffd", exc.end)

    codecs.register_error("lathe_record", record)
    text = raw.decode("utf-8", "lathe_record")
    char_to_byte, pos, e = [], 0, 0
    for ch in text:
        char_to_byte.append(pos)
        if ch == "\ufffd" and e < len(errors) and errors[e][0] == pos:
            pos = errors[e][1]
            e += 1
        else:
            pos += len(ch.encode("utf-8"))
    char_to_byte.append(pos)
    assert pos == len(raw)
    return text, char_to_byte


def bytelevel_bpe(vocab_size=400, **trainer_kwargs):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, **trainer_kwargs)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def with_model_json(tok: Tokenizer, edit):
    """Rebuilds a tokenizer after editing its JSON (for settings the Python API does not expose)."""
    data = json.loads(tok.to_str())
    edit(data)
    return Tokenizer.from_str(json.dumps(data))


def byte_level_after(pre):
    """A pre-tokenizer followed by ByteLevel (no regex), so the byte-level BPE sees every character."""
    return pre_tokenizers.Sequence([pre, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def build_all():
    out = {}
    base = bytelevel_bpe()
    base_json = base.to_str()

    def fresh():
        return Tokenizer.from_str(base_json)

    # --- BPE variants ---
    t = fresh()
    t.post_processor = processors.ByteLevel(trim_offsets=True)
    t.add_special_tokens([ADDED[0], ADDED[3]])
    t.add_tokens(ADDED[1:3] + ADDED[4:])
    out["bpe-bytelevel-added"] = t

    def legacy(d):
        d["model"]["merges"] = [" ".join(m) for m in d["model"]["merges"]]
    out["bpe-legacy-merges"] = with_model_json(fresh(), legacy)

    t = fresh()
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    t.post_processor = processors.ByteLevel(trim_offsets=True, add_prefix_space=True)
    out["bpe-prefix-space-trim"] = t

    t = fresh()
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    out["bpe-no-trim"] = t

    def ignore(d):
        d["model"]["ignore_merges"] = True
        # a whole word in the vocab that the merges would not produce
        d["model"]["vocab"]["Ġsupercalifragilisticexpialidocious"] = len(d["model"]["vocab"])
    out["bpe-ignore-merges"] = with_model_json(fresh(), ignore)

    # SentencePiece-style BPE with byte fallback, built from a trained vocab plus <0xNN> pieces.
    sp = Tokenizer(models.BPE(unk_token="<unk>"))
    sp.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    sp.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                                      limit_alphabet=60, show_progress=False))
    d = json.loads(sp.to_str())
    vocab = d["model"]["vocab"]
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    d["model"]["byte_fallback"] = True
    d["decoder"] = json.loads(decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                                 decoders.Strip(" ", 1, 0)]).__getstate__())
    t = Tokenizer.from_str(json.dumps(d))
    t.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
    out["bpe-byte-fallback"] = t

    d2 = json.loads(sp.to_str())
    d2["model"]["byte_fallback"] = False
    d2["model"]["fuse_unk"] = True
    out["bpe-unk-fused"] = Tokenizer.from_str(json.dumps(d2))
    d2["model"]["fuse_unk"] = False
    out["bpe-unk-unfused"] = Tokenizer.from_str(json.dumps(d2))

    t = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    t.decoder = decoders.BPEDecoder(suffix="</w>")
    t.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"],
                                                     continuing_subword_prefix="##", end_of_word_suffix="</w>",
                                                     show_progress=False))
    out["bpe-prefix-suffix"] = t

    # --- WordPiece ---
    for name, norm in [("wordpiece-bert", normalizers.BertNormalizer()),
                       ("wordpiece-cased", normalizers.BertNormalizer(lowercase=False, strip_accents=False,
                                                                       handle_chinese_chars=False, clean_text=True)),
                       ("wordpiece-strip-accents", normalizers.BertNormalizer(lowercase=False, strip_accents=True))]:
        t = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12))
        t.normalizer = norm
        t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        t.train_from_iterator(CORPUS, trainers.WordPieceTrainer(
            vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False))
        t.post_processor = processors.BertProcessing(("[SEP]", t.token_to_id("[SEP]")), ("[CLS]", t.token_to_id("[CLS]")))
        t.decoder = decoders.WordPiece(prefix="##", cleanup=name != "wordpiece-cased")
        out[name] = t

    # --- Unigram ---
    for name, byte_fallback in [("unigram", False), ("unigram-byte-fallback", True)]:
        t = Tokenizer(models.Unigram())
        t.normalizer = normalizers.NFKC()
        t.pre_tokenizer = pre_tokenizers.Metaspace()
        t.decoder = decoders.Metaspace()
        specials = ["<unk>", "<s>", "</s>"] + ([f"<0x{b:02X}>" for b in range(256)] if byte_fallback else [])
        t.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=300 + len(specials), special_tokens=specials,
                                                             unk_token="<unk>", show_progress=False))
        if byte_fallback:
            d = json.loads(t.to_str())
            d["model"]["byte_fallback"] = True
            d["added_tokens"] = [a for a in d["added_tokens"] if not a["content"].startswith("<0x")]
            d["decoder"] = json.loads(decoders.Sequence([decoders.Metaspace(), decoders.ByteFallback()]).__getstate__())
            t = Tokenizer.from_str(json.dumps(d))
        t.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
        out[name] = t

    # --- Normalizers (on the byte-level BPE: every character survives, offsets are checked) ---
    norms = {
        "nfc": normalizers.NFC(), "nfd": normalizers.NFD(), "nfkc": normalizers.NFKC(), "nfkd": normalizers.NFKD(),
        "lowercase": normalizers.Lowercase(), "strip": normalizers.Strip(),
        "strip-left": normalizers.Strip(left=True, right=False),
        "strip-accents": normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()]),
        "prepend": normalizers.Prepend("▁"),
        "replace-string": normalizers.Replace("  ", "_"),
        "replace-regex": normalizers.Replace(Regex(r"\s+"), " "),
        "replace-regex-grow": normalizers.Replace(Regex(r"[aeiou]"), "<v>"),
        "bert-all": normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True,
                                               lowercase=True),
        "sequence": normalizers.Sequence([normalizers.NFKD(), normalizers.Lowercase(), normalizers.Strip()]),
    }
    for name, n in norms.items():
        t = fresh()
        t.normalizer = n
        t.add_special_tokens([ADDED[0]])
        t.add_tokens([ADDED[4], ADDED[5]])
        out[f"norm-{name}"] = t

    # --- Pre-tokenizers (followed by ByteLevel without regex) ---
    pres = {
        "whitespace": pre_tokenizers.Whitespace(),
        "whitespace-split": pre_tokenizers.WhitespaceSplit(),
        "bert": pre_tokenizers.BertPreTokenizer(),
        "digits": pre_tokenizers.Digits(individual_digits=False),
        "digits-individual": pre_tokenizers.Digits(individual_digits=True),
        "char-delimiter": pre_tokenizers.CharDelimiterSplit("e"),
        "split-string": pre_tokenizers.Split(" ", behavior="removed"),
    }
    for behavior in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
        pres[f"punctuation-{behavior}"] = pre_tokenizers.Punctuation(behavior=behavior)
        for invert in [False, True]:
            pres[f"split-regex-{behavior}{'-invert' if invert else ''}"] = pre_tokenizers.Split(
                Regex(r"\p{N}+|\s+(?!\S)|[^\s\p{L}\p{N}]"), behavior=behavior, invert=invert)
    for name, p in pres.items():
        t = fresh()
        t.pre_tokenizer = byte_level_after(p)
        t.add_special_tokens([ADDED[0]])
        out[f"pre-{name}"] = t

    # Metaspace variants on a Unigram-free BPE: the byte fallback tokenizer's vocab covers ▁ pieces.
    for scheme in ["always", "first", "never"]:
        for split in [True, False]:
            t = Tokenizer.from_str(out["bpe-byte-fallback"].to_str())
            t.normalizer = None
            t.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=scheme, split=split)
            t.decoder = decoders.Sequence([decoders.Metaspace(prepend_scheme=scheme), decoders.ByteFallback(),
                                           decoders.Fuse()])
            t.add_special_tokens([ADDED[0]])
            out[f"pre-metaspace-{scheme}{'' if split else '-nosplit'}"] = t

    t = fresh()
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    out["pre-bytelevel-prefix"] = t

    # --- More added-token and component corner cases ---
    t = fresh()
    t.normalizer = normalizers.Lowercase()
    t.add_special_tokens([AddedToken("<SPECIAL>", special=True, normalized=False),
                          AddedToken("<SPE", special=True, normalized=False),
                          AddedToken("the", special=True, normalized=False)])
    t.add_tokens([AddedToken("[NL]", lstrip=True, rstrip=True, normalized=True),
                  AddedToken("ÿÉ", single_word=True, normalized=False),
                  AddedToken("hello", single_word=True, lstrip=True, normalized=True)])
    out["added-corner-cases"] = t
    for behavior in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
        t = fresh()
        t.pre_tokenizer = byte_level_after(pre_tokenizers.Split("ab", behavior=behavior))
        out[f"pre-split-string-{behavior}"] = t
    t = fresh()
    t.normalizer = normalizers.StripAccents()
    out["norm-strip-accents-only"] = t
    # Patterns that match the empty string (lookarounds, \s*): the library's Onig find_iter rules.
    for behavior in ["isolated", "merged_with_next", "removed"]:
        t = fresh()
        t.pre_tokenizer = byte_level_after(pre_tokenizers.Split(Regex(r"(?=[A-Z])|\s*"), behavior=behavior))
        out[f"pre-split-empty-matches-{behavior}"] = t
    # (A Replace normalizer whose regex matches the empty string makes the library panic: not covered.)
    t = fresh()
    t.normalizer = normalizers.Sequence([normalizers.Replace("ab", "ÿ"), normalizers.Replace("é", "ee")])
    out["norm-replace-multichar"] = t
    t = fresh()
    t.normalizer = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False,
                                              lowercase=True)
    out["norm-bert-no-clean"] = t
    t = Tokenizer.from_str(out["unigram"].to_str())
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                               pre_tokenizers.Metaspace(replacement="_", prepend_scheme="first")])
    t.decoder = decoders.Metaspace(replacement="_", prepend_scheme="first")
    out["unigram-custom-metaspace"] = t

    # --- Post-processors ---
    t = fresh()
    t.add_special_tokens(["<cls>", "<sep>", "<bos>"])
    t.post_processor = processors.TemplateProcessing(
        single="<bos> <cls> $A <sep>", special_tokens=[("<bos>", t.token_to_id("<bos>")),
                                                       ("<cls>", t.token_to_id("<cls>")), ("<sep>", t.token_to_id("<sep>"))])
    out["post-template"] = t
    t = fresh()
    t.add_special_tokens(["<s>", "</s>"])
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    t.post_processor = processors.RobertaProcessing(("</s>", t.token_to_id("</s>")), ("<s>", t.token_to_id("<s>")),
                                                    trim_offsets=True, add_prefix_space=True)
    out["post-roberta"] = t
    t = fresh()
    t.add_special_tokens(["<s>", "</s>"])
    t.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=True),
        processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", t.token_to_id("<s>")),
                                                                            ("</s>", t.token_to_id("</s>"))])])
    out["post-sequence"] = t

    # --- Decoders not covered above ---
    t = fresh()
    t.decoder = decoders.CTC(pad_token="Ġ", word_delimiter_token="e", cleanup=True)
    out["dec-ctc"] = t
    t = fresh()
    # Strip with stop > 0 panics in the library on an empty token, so it strips per token before
    # ByteLevel (no token is empty there).
    t.decoder = decoders.Sequence([decoders.Strip("Ġ", 0, 1), decoders.ByteLevel(), decoders.Replace(Regex(r"o+"), "0"),
                                   decoders.Strip("H", 1, 0)])
    out["dec-sequence"] = t
    t = Tokenizer.from_str(out["bpe-byte-fallback"].to_str())
    t.decoder = decoders.Sequence([decoders.Metaspace(), decoders.ByteFallback(), decoders.Fuse()])
    out["dec-metaspace-bytefallback"] = t
    return out


def safe_decode(tok, ids, skip):
    """The library panics in a few decoders on empty input (Strip with stop > 0); such cases get null."""
    try:
        return tok.decode(ids, skip_special_tokens=skip)
    except BaseException:  # pyo3's PanicException derives from BaseException
        return None


def references(tok: Tokenizer):
    cases = []
    for s in STRINGS:
        raw = s if isinstance(s, bytes) else s.encode("utf-8")
        text, char_to_byte = decode_with_map(raw)
        conv = lambda offs: [[char_to_byte[b], char_to_byte[e]] for b, e in offs]
        plain = tok.encode(text, add_special_tokens=False)
        special = tok.encode(text, add_special_tokens=True)
        ids = special.ids
        cases.append({
            "hex": raw.hex(), "text": text,
            "ids": plain.ids, "offsets": conv(plain.offsets),
            "ids_special": ids, "offsets_special": conv(special.offsets),
            "special_tokens_mask": special.special_tokens_mask,
            "decoded": safe_decode(tok, ids, False),
            "decoded_skip": safe_decode(tok, ids, True),
            "decoded_prefix": safe_decode(tok, ids[: len(ids) // 2], False),
        })
    return cases


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for name, tok in build_all().items():
        folder = out / name
        folder.mkdir(exist_ok=True)
        tok.save(str(folder / "tokenizer.json"))
        # Reload from the file so the references are what the saved JSON gives.
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        added = [[t.content, tok.token_to_id(t.content), tok.id_to_token(i), t.special]
                 for i, t in sorted(tok.get_added_tokens_decoder().items())]
        (folder / "references.json").write_text(json.dumps(
            {"name": name, "vocab_size": tok.get_vocab_size(with_added_tokens=True), "added_tokens": added,
             "cases": references(tok)}, ensure_ascii=False, indent=0))
    (out / "VERSION").write_text(f"tokenizers {tokenizers.__version__}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
