#!/usr/bin/env bash
# Checks that every citation of docs/{DESIGN,MATH,JLAMA}.md in the tracked files names a section that exists
# ("docs/MATH.md §4" needs a heading "## 4. ..." in docs/MATH.md), and that every in-page link between the three
# documents (FILE.md#anchor) points to a heading of that file. Outside Markdown a citation must name its section;
# a Markdown link to a whole document is fine. Prints each broken one; exit code 1 if any.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 - <<'EOF'
import re, subprocess, sys, pathlib

docs = {n: pathlib.Path("docs", n).read_text(encoding="utf-8") for n in ("DESIGN.md", "MATH.md", "JLAMA.md")}
sections = {n: set(re.findall(r"^## (\d+)\. ", t, re.M)) for n, t in docs.items()}

def anchor(heading):  # GitHub's rule: lower case, drop punctuation but '-' and ' ', spaces to '-'
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

anchors = {n: {anchor(h) for h in re.findall(r"^#+ (.+)$", t, re.M)} for n, t in docs.items()}
broken = []
files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
for f in files:
    if f.endswith(".ptx") or f == "scripts/check-doc-citations.sh":
        continue
    try:
        text = pathlib.Path(f).read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        continue
    for m in re.finditer(r"\b(DESIGN|MATH|JLAMA)\.md\s+sections?\b", text):  # also across a line break
        lineno = text.count("\n", 0, m.start()) + 1
        broken.append(f"{f}:{lineno}: cites {m.group(1)}.md by 'section': write {m.group(1)}.md §N")
    for lineno, line in enumerate(text.splitlines(), 1):
        for name in sorted(set(re.findall(r"\b(DESIGN|MATH|JLAMA)\.md\b", line))):
            doc = name + ".md"
            cited = re.findall(doc.replace(".", r"\.") + r"((?:,? ?(?:§\d+|and §\d+))*)", line)
            numbers = [n for c in cited for n in re.findall(r"§(\d+)", c)]
            if not numbers and not f.endswith(".md"):
                broken.append(f"{f}:{lineno}: cites {doc} without a section (§N)")
            for n in numbers:
                if n not in sections[doc]:
                    broken.append(f"{f}:{lineno}: {doc} has no section {n}")
        for doc, frag in re.findall(r"\b(DESIGN\.md|MATH\.md|JLAMA\.md)#([\w\-]+)", line):
            if frag not in anchors[doc]:
                broken.append(f"{f}:{lineno}: {doc} has no heading #{frag}")
for b in broken:
    print(b)
sys.exit(1 if broken else 0)
EOF
