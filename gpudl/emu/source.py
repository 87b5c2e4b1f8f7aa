"""The .cu file as text: find its extern "C" __global__ kernels and their parameters, rewrite
`extern __shared__` arrays, and write the C++ translation unit the host compiler builds.

The unit is: the shim header, `#line 1 "<name>.cu"` (so that compiler errors, ASan reports
and debuggers point into the .cu file), the kernel source, one exported launcher per
kernel, `gpudl_emu_launch_<kernel>`, that unpacks a `void**` argument array, and
`gpudl_emu_signatures()`, the kernels' parameter lists, read back when a cached library
is loaded. Kernels are looked for in the preprocessed source, so macros that define
kernels or parameter types, and #if'd-out code, are understood.
"""
import re
from dataclasses import dataclass

from .params import parse_params

_LITERAL_OR_COMMENT = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
_SCAN = re.compile(r'\bextern\s*"C"\s*\{|[{}]|\b__global__\b')
_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(")
_ATTRIBUTES = {"__launch_bounds__", "__attribute__", "__align__", "alignas", "__declspec"}
_EXTERN_SHARED = re.compile(r"\bextern\b([^;{}]*?)\b__shared__\b([^;{}]*?)\b([A-Za-z_]\w*)\s*\[\s*\]\s*;")


@dataclass(frozen=True)
class KernelInfo:
    name: str
    params_text: str

    @property
    def params(self):
        return parse_params(self.params_text)


def blank(text):
    """`text` with comments and the insides of string literals turned into spaces (newlines
    and length kept, so offsets and line numbers still match); "C" survives for extern "C"."""
    def spaces(m):
        s = m.group(0)
        if s == '"C"':
            return s
        if s[0] in "\"'":
            return s[0] + re.sub(r"[^\n]", " ", s[1:-1]) + s[-1]
        return re.sub(r"[^\n]", " ", s)
    return _LITERAL_OR_COMMENT.sub(spaces, text)


def _closing(text, open_pos):
    """Index of the parenthesis that closes the one at open_pos; -1 if none does (the
    compiler will then report the broken source)."""
    depth = 0
    for i in range(open_pos, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def _kernel_at(clean, pos, in_extern_c):
    """KernelInfo for the __global__ at pos, or None if it is not an extern "C" function."""
    start = max(clean.rfind(c, 0, pos) for c in ";{}") + 1
    prefix = clean[start:pos]
    if re.search(r"\btemplate\b", prefix) or not (in_extern_c or re.search(r'\bextern\s*"C"', prefix)):
        return None
    at = pos + len("__global__")
    while True:
        m = _CALL.search(clean, at)
        if m is None:
            return None
        close = _closing(clean, m.end() - 1)
        if close < 0:
            return None
        if m.group(1) not in _ATTRIBUTES:
            return KernelInfo(m.group(1), " ".join(clean[m.end():close].split()))
        at = close + 1


def find_kernels(source):
    """{name: KernelInfo} of the extern "C" __global__ functions in the source."""
    clean = blank(source)
    kernels, braces = {}, []
    for m in _SCAN.finditer(clean):
        token = m.group(0)
        if token == "}":
            if braces:
                braces.pop()
        elif token == "{" or token.startswith("extern"):
            braces.append(token != "{")
        else:
            info = _kernel_at(clean, m.start(), any(braces))
            if info is not None:
                kernels.setdefault(info.name, info)
    return kernels


def rewrite_extern_shared(source):
    """`extern __shared__ T name[];` -> `T* name = (T*)gpudl_emu_dynamic_shared;` (same line count)."""
    clean = blank(source)
    out, last = [], 0
    for m in _EXTERN_SHARED.finditer(clean):
        ctype = " ".join(re.sub(r"__align__\s*\([^)]*\)", " ", m.group(1) + " " + m.group(2)).split())
        out.append(source[last:m.start()])
        out.append(f"{ctype}* {m.group(3)} = reinterpret_cast<{ctype}*>(gpudl_emu_dynamic_shared);")
        out.append("\n" * source.count("\n", m.start(), m.end()))
        last = m.end()
    out.append(source[last:])
    return "".join(out)


def body(source, filename):
    """The kernel source as compiled: after `#line 1 "<filename>"`, extern shared rewritten."""
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    text = rewrite_extern_shared(source)
    return f'#line 1 "{quoted}"\n' + (text if text.endswith("\n") else text + "\n")


def _launcher(name):
    return (f'extern "C" __attribute__((visibility("default"))) int gpudl_emu_launch_{name}('
            "const unsigned* gpudl_emu_grid, const unsigned* gpudl_emu_block, void** gpudl_emu_args, "
            "size_t gpudl_emu_shared, int gpudl_emu_order, char* gpudl_emu_err, size_t gpudl_emu_errlen) {\n"
            f'  return gpudl_emu::launch("{name}", &{name}, gpudl_emu_grid, gpudl_emu_block, gpudl_emu_args, '
            "gpudl_emu_shared, gpudl_emu_order, gpudl_emu_err, gpudl_emu_errlen);\n}\n")


def translation_unit(kernel_body, kernels):
    """The C++ text to compile: shim, kernel body, launchers and the signature table."""
    table = "".join(f"{k.name}\t{k.params_text}\n" for k in kernels.values())
    return "".join([
        '#include "shim.h"\n',
        kernel_body,
        '#line 1 "gpudl-emu-launchers"\n',
        *(_launcher(name) for name in kernels),
        'extern "C" __attribute__((visibility("default"))) const char* gpudl_emu_signatures() {\n',
        f'  return R"gpudl_emu({table})gpudl_emu";\n}}\n',
    ])


def read_signatures(table):
    """{name: KernelInfo} from the text gpudl_emu_signatures() returns."""
    rows = (line.split("\t", 1) for line in table.splitlines() if line)
    return {name: KernelInfo(name, params) for name, params in rows}
