#!/usr/bin/env python3
"""Fails on string-built SQL in the C++ sources.

All SQL must be a constant with $n parameters: a query text built at run time
(a literal with SQL in it glued to something with +, StrCat, StrFormat,
StrAppend, Substitute, fmt/std::format, printf, ostream <<, append) is where
injection starts, whether today's operand is a constant or not. Two checks:

  1. Every string literal that looks like SQL (an upper-case SQL keyword in
     SQL position) must not be an operand of a run-time string building
     expression within its statement.
  2. Every libpqxx execution call (exec, exec0, exec1, exec_n, exec_params,
     exec_params0, exec_params1, exec_prepared's prepare, query*, stream_from)
     must take as its query a string literal, or a name bound to a literal
     by a constexpr declaration in the same file, or one of ALLOWED_QUERY_EXPRS
     (migrations embedded from the .sql files at build time).

    sql_grep_test.py SOURCE_DIR [DIR...]   scan (default dirs: coordinator ctl common worker)
    sql_grep_test.py --self-test          prove the checks catch what they should
"""
import os
import re
import sys

SQL_KEYWORDS = re.compile(
    r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\s+\w+(\s+\w+)?\s+SET|DELETE\s+FROM|"
    r"WHERE\b|ORDER\s+BY|GROUP\s+BY|VALUES\s*\(|RETURNING\b|CREATE\s+(TABLE|INDEX|ROLE|VIEW|DATABASE)|"
    r"DROP\s+(TABLE|DATABASE|ROLE|VIEW)|ALTER\s+(TABLE|ROLE)|GRANT\b|TRUNCATE\b|SET\s+\w+\s*(=|TO)|"
    r"LIMIT\s+\$?\d|LIMIT\s*$|\bSET\s+ROLE)",
    re.S)

BUILDERS = re.compile(
    r"(\bStrCat\b|\bStrAppend\b|\bStrFormat\b|\bSubstitute\b|\bformat\s*\(|\bsprintf\b|"
    r"\bsnprintf\b|\bstd::to_string\b|\.append\s*\(|<<|(?<![+])\+(?![+=])|\+=)")

EXEC_CALL = re.compile(
    r"\b(?:exec|exec0|exec1|exec_n|exec_params|exec_params0|exec_params1|exec_params_n|"
    r"query|query1|query01|query_n|query_value|prepare|stream_from)\s*\(")

ALLOWED_QUERY_EXPRS = {
    "m.sql",  # coordinator/store/migrations.cc: the embedded migrations/*.sql files
}

CONSTEXPR_LITERAL = re.compile(
    r"constexpr\s+(?:const\s+)?(?:char\s*\*\s*(?:const\s+)?|char\s+|std::string_view\s+|"
    r"absl::string_view\s+)(\w+)\s*(?:\[\s*\])?\s*=\s*\"")


def strip_comments(text):
    """Replaces comments with spaces, keeping string literals and line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = ")" + m.group(1) + '"'
            j = text.find(end, i)
            j = n if j < 0 else j + len(end)
            out.append(text[i:j])
            i = j
        elif c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


LITERAL = re.compile(r'R"([^(\s]*)\((.*?)\)\1"|"((?:[^"\\\n]|\\.)*)"', re.S)


def literal_text(m):
    return m.group(2) if m.group(2) is not None else m.group(3)


def statement_bounds(text, pos):
    """The statement around pos: from the previous ; { } to the next ; at depth 0."""
    start = max(text.rfind(";", 0, pos), text.rfind("{", 0, pos), text.rfind("}", 0, pos)) + 1
    depth, i = 0, pos
    while i < len(text):
        c = text[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == ";" and depth <= 0:
            break
        elif c == '"':
            m = LITERAL.match(text, i)
            if m:
                i = m.end()
                continue
        i += 1
    return start, i


def blank_literals(s):
    return LITERAL.sub(lambda m: '""', s)


def first_argument(text, open_paren):
    depth, i = 0, open_paren
    while i < len(text):
        c = text[i]
        if c == '"':
            m = LITERAL.match(text, i)
            if m:
                i = m.end()
                continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return text[open_paren + 1:i]
        elif c == "," and depth == 1:
            return text[open_paren + 1:i]
        i += 1
    return text[open_paren + 1:]


BUILDER_CALLS = {"StrCat", "StrAppend", "StrFormat", "Substitute", "format", "sprintf",
                 "snprintf", "append", "to_string", "Format"}
FORMAT_CALLS = {"StrFormat", "format", "sprintf", "snprintf", "Substitute", "Format"}
LITERALS_ONLY = r'(?:\s*(?:R"([^(\s]*)\((?:.*?)\)\1"|"(?:[^"\\]|\\.)*")\s*)+'


def split_args(s):
    """Top-level comma-separated pieces of s (string literals respected)."""
    args, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c == '"':
            m = LITERAL.match(s, i)
            if m:
                cur.append(s[i:m.end()])
                i = m.end()
                continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            args.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    args.append("".join(cur))
    return args


def split_plus(s):
    """Operands of a top-level + chain in s."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c == '"':
            m = LITERAL.match(s, i)
            if m:
                cur.append(s[i:m.end()])
                i = m.end()
                continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "+" and depth == 0 and s[i:i + 2] not in ("++", "+="):
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def is_constant(expr, constants):
    """A literal, adjacent literals, a constexpr name, or cond ? literal : literal."""
    e = expr.strip()
    while e.startswith("(") and e.endswith(")") and first_argument(e, 0) == e[1:-1]:
        e = e[1:-1].strip()
    if re.fullmatch(LITERALS_ONLY, e, re.S):
        return True
    if re.fullmatch(r"(?:\w+::)*\w+", e) and e.split("::")[-1] in constants:
        return True
    m = re.fullmatch(r"[^?\"]+\?(.*):(.*)", e, re.S)
    if m and is_constant(m.group(1), constants) and is_constant(m.group(2), constants):
        return True
    if re.fullmatch(r"std::string(?:_view)?\s*\((.*)\)", e, re.S):
        return is_constant(re.fullmatch(r"std::string(?:_view)?\s*\((.*)\)", e, re.S).group(1),
                           constants)
    return False


def enclosing_call(text, pos, floor):
    """(name, open_paren) of the innermost call whose parentheses hold pos."""
    depth, i = 0, pos - 1
    while i >= floor:
        c = text[i]
        if c == '"':  # skip back over a literal (rough: assumes no escaped quotes at ends)
            j = text.rfind('"', floor, i)
            i = j - 1 if j >= 0 else i - 1
            continue
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth == 0:
                if c != "(":
                    return None, i
                m = re.search(r"([A-Za-z_]\w*)\s*$", text[floor:i])
                return (m.group(1) if m else None), i
            depth -= 1
        i -= 1
    return None, None


def literal_chain(text, m):
    """The span of adjacent literals that m belongs to."""
    start, end = m.start(), m.end()
    while True:
        nxt = LITERAL.match(text, end + len(text[end:]) - len(text[end:].lstrip()))
        if not nxt:
            break
        end = nxt.end()
    return start, end


def scan_text(path, raw):
    problems = []
    text = strip_comments(raw)
    line_of = lambda pos: text.count("\n", 0, pos) + 1
    constants = set(CONSTEXPR_LITERAL.findall(text))
    # Strings assigned once from constants only (e.g. a StrCat of constexpr
    # fragments) are constants too.
    for name, rhs in re.findall(r"(?:const\s+)?std::string\s+(\w+)\s*=\s*([^;]*);", text):
        call = re.fullmatch(r"\s*(?:absl::)?StrCat\s*\((.*)\)\s*", rhs, re.S)
        pieces = split_args(call.group(1)) if call else split_plus(rhs)
        mutated = re.search(rf"\b{name}\s*(\.append\s*\(|\+=|=[^=]|<<)|StrAppend\s*\(\s*&{name}\b",
                            text[text.find(rhs) + len(rhs):])
        if all(is_constant(p, constants) for p in pieces) and not mutated:
            constants.add(name)

    def report(pos, how, body):
        problems.append(f"{path}:{line_of(pos)}: SQL text built at run time ({how} near "
                        f"{body[:50]!r}); use a constant query with $n parameters")

    # 1. SQL literals glued to something that is not a constant.
    reported = set()
    pos = 0
    for m in LITERAL.finditer(text):
        if m.start() < pos:
            continue
        body = literal_text(m)
        if not SQL_KEYWORDS.search(body):
            continue
        cstart, cend = literal_chain(text, m)
        pos = cend
        stmt_start, stmt_end = statement_bounds(text, cstart)
        before = text[stmt_start:cstart].rstrip()
        after = text[cend:stmt_end].lstrip()
        if before.endswith("<<") or after.startswith("<<"):
            report(cstart, "`<<`", body)
            continue
        if before.endswith("+=") or re.search(r"\+=\s*$", before):
            report(cstart, "`+=`", body)
            continue
        name, paren = enclosing_call(text, cstart, stmt_start)
        if name in BUILDER_CALLS:
            args = split_args(_call_args(text, paren))
            operands = args[1:] if name in FORMAT_CALLS or name == "StrAppend" else args
            bad = [a for a in operands if not is_constant(a, constants)]
            if name == "to_string" or bad:
                report(cstart, f"`{name}` of `{(bad or [''])[0].strip()[:40]}`", body)
                continue
        # A + chain around the literal, within its argument or initialiser.
        lo = paren + 1 if paren is not None else stmt_start
        seg = _call_args(text, paren) if paren is not None else text[stmt_start:stmt_end]
        for arg in split_args(seg):
            if text.find(arg, lo) <= cstart < text.find(arg, lo) + len(arg) or body in arg:
                parts = split_plus(arg)
                if len(parts) > 1:
                    bad = [p for p in parts if not is_constant(p, constants)]
                    if bad:
                        report(cstart, f"`+` of `{bad[0].strip()[:40]}`", body)
                break

    # 2. Execution calls whose query is not a constant.
    for m in EXEC_CALL.finditer(text):
        before = text[max(0, m.start() - 2):m.start()]
        if not (before.endswith(".") or before.endswith("->")):
            continue  # only member calls: txn.exec, conn.prepare, ...
        arg = " ".join(first_argument(text, m.end() - 1).split())
        if not arg:
            continue
        if m.group(0).startswith("prepare") and re.fullmatch(r"\w+", arg):
            continue  # prepare(name, sql): the first argument is the statement's name
        if arg in ALLOWED_QUERY_EXPRS or is_constant(arg, constants):
            continue
        call = re.fullmatch(r"(?:absl::)?StrCat\s*\((.*)\)", arg, re.S)
        if call and all(is_constant(p, constants) for p in split_args(call.group(1))):
            continue
        problems.append(f"{path}:{line_of(m.start())}: {m.group(0)[:-1].strip()}() with a "
                        f"non-constant query `{arg[:60]}`; use a constant with $n parameters")
    return sorted(set(problems), key=lambda p: (p.split(":")[0], int(p.split(":")[1])))


def _call_args(text, paren):
    """The text between the parenthesis at `paren` and its match."""
    depth, i = 0, paren
    while i < len(text):
        c = text[i]
        if c == '"':
            m = LITERAL.match(text, i)
            if m:
                i = m.end()
                continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return text[paren + 1:i]
        i += 1
    return text[paren + 1:]


def scan(source_dir, dirs):
    problems, files = [], 0
    for d in dirs:
        root = os.path.join(source_dir, d)
        for dirpath, _, names in os.walk(root):
            for name in sorted(names):
                if not name.endswith((".cc", ".h", ".cpp", ".hpp")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    raw = f.read()
                files += 1
                problems += scan_text(os.path.relpath(path, source_dir), raw)
    return problems, files


BAD = {
    "plus": 'txn.exec("SELECT * FROM jobs WHERE name = \'" + name + "\'");',
    "strcat": 'auto q = absl::StrCat("DELETE FROM jobs WHERE id = ", id);\ntxn.exec(q);',
    "strformat": 'txn.exec(absl::StrFormat("UPDATE jobs SET state = \'%s\' WHERE id = 1", s));',
    "to_string": 'txn.exec("SELECT 1 FROM jobs LIMIT " + std::to_string(n));',
    "stream": 'ss << "INSERT INTO events (kind) VALUES (\'" << kind << "\')";',
    "append": 'std::string q = "SELECT id FROM jobs WHERE ";\nq.append(cond);\ntxn.exec(q);',
    "strappend": 'std::string q = "SELECT id FROM jobs";\nabsl::StrAppend(&q, " WHERE x = ", x);',
    "strcat_var": ('const std::string sql = absl::StrCat("SELECT a FROM t WHERE x = ", x);\n'
                   'txn.exec(sql);'),
    "exec_var_param": 'txn.exec_params(query_text, 1);',
    "stream_after": 'os << prefix << "DELETE FROM jobs WHERE id = " << id;',
    "plus_equals": 'std::string q = "SELECT id FROM jobs";\nq += " WHERE x = " + y;',
    "var_query": 'const std::string sql = MakeQuery(x);\nfor (auto r : txn.exec_params(sql, 1)) {}',
    "set_strcat": 'setup.exec(absl::StrCat("SET statement_timeout = ", ms));',
    "order_by_choice": 'const std::string sql = absl::StrCat("SELECT a FROM t ORDER BY ", col);',
    "multiline": ('txn.exec_params(\n  "SELECT id FROM jobs "\n  "WHERE campaign_id = " + '
                  'std::to_string(id), 1);'),
    "raw_string": 'txn.exec(R"(SELECT id FROM jobs WHERE x = )" + x);',
}
GOOD = {
    "params": 'txn.exec_params("SELECT id FROM jobs WHERE id = $1", id);',
    "adjacent": 'txn.exec_params(\n  "SELECT id FROM jobs "\n  "WHERE id = $1 LIMIT $2", id, n);',
    "constexpr": ('constexpr const char* kSql = "SELECT id FROM jobs WHERE id = $1";\n'
                  'txn.exec_params(kSql, id);'),
    "message": 'return absl::StrCat("campaign ", id, " does not exist");',
    "prose": 'spdlog::info("select a worker from the list: " + name);',
    "migration": 'txn.exec(m.sql);',
    "set_config": 'setup.exec_params("SELECT set_config(\'statement_timeout\', $1, false)", ms);',
    "constant_strcat": ('constexpr char kCols[] = "id, state";\n'
                        'txn.exec_params(absl::StrCat("SELECT ", kCols, " FROM jobs WHERE id = $1"), 1);'),
    "constant_choice": ('const std::string sql = absl::StrCat("SELECT a FROM t ORDER BY ", '
                        'by_best ? "best" : "final", " DESC LIMIT $1");\ntxn.exec_params(sql, 5);'),
    "parameter_building": ('txn.exec_params("INSERT INTO t (a, b) VALUES ($1, $2::int[])", '
                           'std::to_string(seed), "{" + absl::StrJoin(v, ",") + "}");'),
    "comment": '// txn.exec("SELECT " + x);\ntxn.exec("SELECT 1");',
}


def self_test():
    failures = []
    for name, code in BAD.items():
        if not scan_text(f"bad/{name}.cc", code):
            failures.append(f"missed string-built SQL: {name}: {code!r}")
    for name, code in GOOD.items():
        got = scan_text(f"good/{name}.cc", code)
        if got:
            failures.append(f"false alarm: {name}: {got}")
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print(f"PASS: self-test: {len(BAD)} string-built queries caught, {len(GOOD)} safe forms passed")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    if len(argv) < 2:
        print(__doc__)
        return 2
    source_dir = argv[1]
    dirs = argv[2:] or ["coordinator", "ctl", "common", "worker"]
    problems, files = scan(source_dir, dirs)
    if files == 0:
        print("FAIL: no C++ sources found under", source_dir, dirs)
        return 1
    for p in problems:
        print("FAIL:", p)
    if problems:
        print(f"{len(problems)} string-built SQL statement(s) in {files} files: parameterise them")
        return 1
    print(f"PASS: no string-built SQL in {files} C++ files under {', '.join(dirs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
