#!/usr/bin/env python3
"""gen_protocol.py: compile a protocol description (XDR language, RFC 4506, the subset
libvirt's remote protocol uses) into C: the types, a qvirXdrType table per type for the one
codec in xdr_type.c, and, for a description with a procedure enum, the procedure table
(names, argument/return/message types, dispatch flags and handlers).

    gen_protocol.py [--procedures ENUM --proc-prefix P --handler-prefix H --ctx CTYPE
                     --driver PREFIX=EXPR... --handle STRUCT:KEY[,KEY][:REFTYPE:TAKE]...]
                    DESCRIPTION.x OUT.h OUT.c

src/rpc/README.md says how to add a procedure, with every annotation form.

Procedures: every member of ENUM is a procedure number; its libvirt API name
("virDomainGetXMLDesc") is derived from the member name. A member preceded by an
annotation comment

    /* @serve */                     worker thread, needs the driver
    /* @serve: write */              ... and is refused on read-only connections
    /* @serve: inline preopen */     main loop, no driver, allowed before CONNECT_OPEN
    /* @serve: write as OTHER f=1 */ OTHER's handler (OTHER is REMOTE_PROC_OTHER): the
                                     arguments move into OTHER's, whose fields they lack
                                     take the given values (0 by default), and OTHER's
                                     return value moves back (or is dropped); a
                                     "ret.mine=theirs" takes a field of another name

is served. A served member may also be preceded by

    /* @call: [RETFIELD =] FUNCTION(PARAM, ...) [WORD ...] */

when its handler is nothing but that driver call: it is generated, passing the driver
(the --driver EXPR of the longest PREFIX FUNCTION starts with, else the context's
--ctx-driver), the named argument fields (a --handle struct by its KEYs: a domain by its
UUID, a volume by pool and name; "snap.dom" reaches into a field; a number or an
UPPER_CASE macro as written; "&TYPE" a zeroed TYPE the driver fills, whose members then
go to the _ret fields of the same names or as trailing "ret.FIELD=MEMBER" words say) and
the GError (none after a trailing word "noerror"). RETFIELD of the _ret receives the
result: a handle from the driver's REFTYPE (or through --handle-return), a string, an int
that fails below 0, an array of strings from a GPtrArray (cut to the client's max*),
an array of handles from a GPtrArray of REFTYPEs (counted in _ret's "ret", sent when
need_results asks). "= FUNCTION(...)" answers the all-zero _ret when FUNCTION succeeds.
A constant answer is

    /* @reply: RETFIELD = "STRING" */  or  /* @reply: RETFIELD = NUMBER_OR_MACRO */

Otherwise its handler is H + CamelCase ("remoteDispatchDomainGetState") with the
signature (CTYPE *ctx, [NAME_args *args,] [NAME_ret *ret,] GError **error), where NAME is
the member's lower-case name under the description's prefix ("remote_domain_get_state");
_args and _ret types are those of that name when the description declares them, and
NAME_msg is the body of an event MESSAGE.

Generated files are build outputs; the description is the source.
"""
import argparse
import os
import re
import sys

BASE_TYPES = {
    "int": ("gint32", "qvirXdrTypeInt", 4),
    "unsigned int": ("guint32", "qvirXdrTypeUInt", 4),
    "unsigned": ("guint32", "qvirXdrTypeUInt", 4),
    "hyper": ("gint64", "qvirXdrTypeHyper", 8),
    "unsigned hyper": ("guint64", "qvirXdrTypeUHyper", 8),
    "bool": ("gboolean", "qvirXdrTypeBool", 4),
    "char": ("gint8", "qvirXdrTypeChar", 4),
    "unsigned char": ("guint8", "qvirXdrTypeUChar", 4),
    "short": ("gint16", "qvirXdrTypeShort", 4),
    "unsigned short": ("guint16", "qvirXdrTypeUShort", 4),
    "double": ("double", "qvirXdrTypeDouble", 8),
}

# Words that libvirt's API names spell other than Capitalized.
API_WORDS = {
    "XML": "XML", "URI": "URI", "UUID": "UUID", "ID": "ID", "OS": "OS", "CPU": "CPU",
    "CPUS": "CPUs", "MAC": "MAC", "FD": "FD", "IOTHREAD": "IOThread", "NWFILTER": "NWFilter",
    "NWFILTERS": "NWFilters", "NMI": "NMI", "PM": "PM", "SCSI": "SCSI", "WWN": "WWN",
    "DHCP": "DHCP", "SEV": "SEV", "SSH": "SSH", "FSTRIM": "FSTrim", "FSFREEZE": "FSFreeze",
    "FSTHAW": "FSThaw", "FSINFO": "FSInfo",
}

# libvirt's gendispatch.pl names each dispatcher from the procedure's words, one by one
# (lower case, first letter up, then these first-match replacements); the name is the
# owner of a domain job in libvirt's "held by monitor=..." errors, so it is spelled as
# gendispatch spells it, which is not always as the API is (NODE_GET_CPU_MAP: CPU).
DISPATCH_FIXUPS = [
    (r"Nwfilter", "NWFilter"), (r"Xml$", "XML"), (r"Xml2$", "XML2"), (r"Uri$", "URI"),
    (r"Uuid$", "UUID"), (r"Id$", "ID"), (r"Mac$", "MAC"), (r"Cpu$", "CPU"), (r"Os$", "OS"),
    (r"Nmi$", "NMI"), (r"Pm", "PM"), (r"Fstrim$", "FSTrim"), (r"Fsfreeze$", "FSFreeze"),
    (r"Fsthaw$", "FSThaw"), (r"Fsinfo$", "FSInfo"), (r"Iothread$", "IOThread"),
    (r"Scsi", "SCSI"), (r"Wwn$", "WWN"), (r"Dhcp$", "DHCP"),
]


def dispatch_proc_name(words):
    out = []
    for w in words:
        w = w.lower().capitalize()
        for pat, rep in DISPATCH_FIXUPS:
            w = re.sub(pat, rep, w, count=1)
        out.append(w)
    return "".join(out)


SERVE_FLAGS = {"inline": "QVIR_RPC_PROC_INLINE", "preopen": "QVIR_RPC_PROC_PREOPEN",
               "write": "QVIR_RPC_PROC_WRITE"}


class DescError(Exception):
    pass


# ---- lexing and parsing ------------------------------------------------------------

TOKEN_RE = re.compile(r"""
    (?P<annot>/\*\s*@(?P<annot_text>.*?)\*/)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<ws>\s+)
  | (?P<num>-?(0x[0-9a-fA-F]+|\d+))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}()\[\]<>;:,=*])
""", re.S | re.X)


def tokenize(text):
    pos = 0
    line = 1
    out = []
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise DescError("line %d: unexpected %r" % (line, text[pos:pos + 20]))
        if m.group("annot") is not None:
            out.append(("annot", m.group("annot_text").strip(), line))
        elif m.group("num") is not None:
            out.append(("num", int(m.group("num"), 0), line))
        elif m.group("ident") is not None:
            out.append(("ident", m.group("ident"), line))
        elif m.group("punct") is not None:
            out.append(("punct", m.group("punct"), line))
        line += m.group(0).count("\n")
        pos = m.end()
    out.append(("eof", None, line))
    return out


class TypeRef:
    """One XDR type as used somewhere: KIND with its limit and element."""

    def __init__(self, kind, name=None, max=None, elem=None):
        self.kind = kind    # base, named, string, opt_string, opaque_fixed, opaque_var,
        self.name = name    # optional, array_fixed, array_var
        self.max = max      # a number or a constant's name
        self.elem = elem


class Parser:
    def __init__(self, tokens):
        self.toks = tokens
        self.i = 0
        self.consts = {}      # name -> int
        self.order = []       # ("const"|"enum"|"struct"|"union"|"typedef", name)
        self.enums = {}       # name -> [(member, value, [annotations])]
        self.structs = {}     # name -> [(field, TypeRef)]
        self.unions = {}      # name -> (discriminant name, [(value, field, TypeRef)])
        self.typedefs = {}    # name -> TypeRef

    def peek(self):
        return self.toks[self.i]

    def take(self, want=None):
        tok = self.toks[self.i]
        if tok[0] == "annot":
            raise DescError("line %d: annotation '@%s' is only allowed before an enum member"
                            % (tok[2], tok[1]))
        if want is not None and tok[1] != want:
            raise DescError("line %d: expected '%s', found '%s'" % (tok[2], want, tok[1]))
        self.i += 1
        return tok

    def ident(self):
        tok = self.take()
        if tok[0] != "ident":
            raise DescError("line %d: expected a name, found '%s'" % (tok[2], tok[1]))
        return tok[1]

    def value(self):
        tok = self.take()
        if tok[0] == "num":
            return tok[1]
        if tok[0] == "ident" and tok[1] in self.consts:
            return self.consts[tok[1]]
        raise DescError("line %d: expected a number or a constant, found '%s'" % (tok[2], tok[1]))

    def define(self, kind, name, line):
        if any(n == name for _, n in self.order) or name in self.consts:
            raise DescError("line %d: '%s' is declared twice" % (line, name))
        self.order.append((kind, name))

    def parse(self):
        while self.peek()[0] != "eof":
            tok = self.peek()
            if tok[0] == "annot":
                raise DescError("line %d: stray annotation '@%s'" % (tok[2], tok[1]))
            word = self.ident()
            if word == "const":
                name = self.ident()
                self.take("=")
                val = self.value()
                self.take(";")
                if name in self.consts:
                    raise DescError("line %d: '%s' is declared twice" % (tok[2], name))
                self.consts[name] = val
                self.order.append(("const", name))
            elif word in ("enum", "struct", "union"):
                name = self.ident()
                self.define(word, name, tok[2])
                body = {"enum": self.enum_body, "struct": self.struct_body,
                        "union": self.union_body}[word]()
                {"enum": self.enums, "struct": self.structs, "union": self.unions}[word][name] = body
                self.take(";")
            elif word == "typedef":
                field, ref = self.declaration()
                self.define("typedef", field, tok[2])
                self.typedefs[field] = ref
                self.take(";")
            else:
                raise DescError("line %d: unexpected '%s'" % (tok[2], word))

    def enum_body(self):
        members = []
        self.take("{")
        while True:
            annots = []
            while self.peek()[0] == "annot":
                annots.append(self.peek()[1])
                self.i += 1
            member = self.ident()
            self.take("=")
            val = self.value()
            members.append((member, val, annots))
            self.consts[member] = val
            if self.peek()[1] == ",":
                self.take(",")
                if self.peek()[1] == "}":
                    break
                continue
            break
        self.take("}")
        return members

    def struct_body(self):
        fields = []
        self.take("{")
        while self.peek()[1] != "}":
            fields.append(self.declaration())
            self.take(";")
        self.take("}")
        if not fields:
            raise DescError("empty struct")
        return fields

    def union_body(self):
        self.take("switch")
        self.take("(")
        dtype = self.base_type_name()
        if dtype not in ("int", "unsigned int", "unsigned") and dtype not in self.enums:
            raise DescError("a union discriminant must be an int or an enum, not '%s'" % dtype)
        dname = self.ident()
        self.take(")")
        self.take("{")
        arms = []
        while self.peek()[1] == "case":
            self.take("case")
            val = self.value()
            self.take(":")
            field, ref = self.declaration()
            self.take(";")
            arms.append((val, field, ref))
        self.take("}")
        return dname, arms

    def base_type_name(self):
        word = self.ident()
        if word == "unsigned":
            nxt = self.peek()
            if nxt[0] == "ident" and nxt[1] in ("int", "hyper", "char", "short"):
                self.take()
                return "unsigned " + nxt[1]
        return word

    def limit(self, close):
        if self.peek()[1] == close:
            self.take(close)
            return 0xFFFFFFFF
        val = self.value()
        self.take(close)
        return val

    def declaration(self):
        tname = self.base_type_name()
        if tname in ("string", "opaque"):
            field = self.ident()
            if self.peek()[1] == "[":
                if tname == "string":
                    raise DescError("a string has a variable length: string %s<N>" % field)
                self.take("[")
                return field, TypeRef("opaque_fixed", max=self.limit("]"))
            self.take("<")
            return field, TypeRef("string" if tname == "string" else "opaque_var",
                                  max=self.limit(">"))
        base = TypeRef("base", name=tname) if tname in BASE_TYPES else TypeRef("named", name=tname)
        if self.peek()[1] == "*":
            self.take("*")
            return self.ident(), TypeRef("optional", elem=base)
        field = self.ident()
        if self.peek()[1] == "[":
            self.take("[")
            return field, TypeRef("array_fixed", max=self.limit("]"), elem=base)
        if self.peek()[1] == "<":
            self.take("<")
            return field, TypeRef("array_var", max=self.limit(">"), elem=base)
        return field, base


# ---- C generation ---------------------------------------------------------------------

class Generator:
    def __init__(self, p, args):
        self.p = p
        self.args = args
        self.h = []
        self.c = []
        self.anon = []      # descriptors of field types, emitted before their users
        self.handles = {}
        for spec in args.handle:
            parts = spec.split(":")
            if len(parts) not in (2, 4):
                raise DescError("--handle %s: wants STRUCT:KEY[,KEY...][:REFTYPE:TAKE]" % spec)
            self.handles[parts[0]] = {"keys": parts[1].split(","),
                                      "ref": parts[2] if len(parts) == 4 else None,
                                      "take": parts[3] if len(parts) == 4 else None}
        self.drivers = []
        for spec in args.driver:
            if "=" not in spec:
                raise DescError("--driver %s: wants PREFIX=EXPRESSION" % spec)
            self.drivers.append(tuple(spec.split("=", 1)))

    # A TypeRef with typedefs and enums resolved one level.
    def resolve(self, ref):
        if ref.kind == "named":
            if ref.name in self.p.typedefs:
                return self.resolve(self.p.typedefs[ref.name])
            if ref.name in self.p.enums:
                return TypeRef("base", name="int")
            if ref.name not in self.p.structs and ref.name not in self.p.unions:
                raise DescError("unknown type '%s'" % ref.name)
        if ref.kind == "optional":
            elem = self.resolve(ref.elem)
            if elem.kind == "string":
                return TypeRef("opt_string", max=elem.max)
            if elem.kind not in ("base", "named"):
                raise DescError("an optional value must be a struct, union or scalar")
            return TypeRef("optional", elem=ref.elem)
        return ref

    def ctype(self, ref):
        """The C type of an array element or optional target."""
        r = self.resolve(ref)
        if r.kind == "base":
            return BASE_TYPES[r.name][0]
        if r.kind == "named":
            return r.name
        if r.kind in ("string", "opt_string"):
            return "char *"
        raise DescError("an array element must be a scalar, struct, union or string")

    def cdecl(self, ref, field):
        r = self.resolve(ref)
        if r.kind in ("base", "named", "string", "opt_string"):
            ct = self.ctype(r)
            return "%s%s%s" % (ct, "" if ct.endswith("*") else " ", field)
        if r.kind == "opaque_fixed":
            return "guint8 %s[%d]" % (field, r.max)
        if r.kind == "opaque_var":
            return "struct {\n        guint32 len;\n        guint8 *val;\n    } %s" % field
        if r.kind == "optional":
            return "%s *%s" % (self.ctype(r.elem), field)
        if r.kind == "array_fixed":
            return "%s %s[%d]" % (self.ctype(r.elem), field, r.max)
        if r.kind == "array_var":
            ct = self.ctype(r.elem)
            return "struct {\n        guint32 len;\n        %s%s*val;\n    } %s" % (
                ct, "" if ct.endswith("*") else " ", field)
        raise DescError("cannot declare %s" % r.kind)

    def min_wire(self, ref):
        r = self.resolve(ref)
        if r.kind == "base":
            return BASE_TYPES[r.name][2]
        if r.kind in ("string", "opt_string", "opaque_var", "array_var", "optional"):
            return 4
        if r.kind == "opaque_fixed":
            return (r.max + 3) // 4 * 4
        if r.kind == "array_fixed":
            return r.max * self.min_wire(r.elem)
        if r.name in self.p.structs:
            return sum(self.min_wire(t) for _, t in self.p.structs[r.name])
        arms = self.p.unions[r.name][1]
        return 4 + min(self.min_wire(t) for _, _, t in arms)

    def plain(self, ref):
        """Whether the C object of REF owns no memory (clearing it is zeroing it)."""
        r = self.resolve(ref)
        if r.kind in ("base", "opaque_fixed"):
            return True
        if r.kind == "array_fixed":
            return self.plain(r.elem)
        if r.kind != "named":
            return False
        if r.name in self.p.structs:
            return all(self.plain(t) for _, t in self.p.structs[r.name])
        return all(self.plain(t) for _, _, t in self.p.unions[r.name][1])

    def desc(self, ref, owner, field):
        """The expression naming REF's descriptor, emitting an anonymous one if needed."""
        if ref.kind == "base":
            return "&" + BASE_TYPES[ref.name][1]
        if ref.kind == "named":
            if ref.name in self.p.enums:
                return "&qvirXdrTypeInt"
            self.resolve(ref)
            return "&%s_type" % ref.name
        r = self.resolve(ref)
        name = "%s_%s_type" % (owner, field.replace(".", "_"))
        kind = {"string": "STRING", "opt_string": "OPT_STRING", "opaque_fixed": "OPAQUE_FIXED",
                "opaque_var": "OPAQUE_VAR", "optional": "OPTIONAL",
                "array_fixed": "ARRAY_FIXED", "array_var": "ARRAY_VAR"}[r.kind]
        elem = self.desc(r.elem, owner, field + "_elem") if r.elem is not None else "NULL"
        if r.elem is not None and self.min_wire(r.elem) == 0:
            raise DescError("%s.%s: elements must take at least one word" % (owner, field))
        size = "sizeof(((%s *)0)->%s)" % (owner, field) if owner in self.p.structs or \
            owner in self.p.unions else "sizeof(%s)" % owner
        self.anon.append(
            "static const qvirXdrType %s = {\n    .name = \"%s.%s\",\n"
            "    .kind = QVIR_XDR_KIND_%s,\n    .size = %s,\n    .max = %uu,\n"
            "    .minWire = %d,\n    .plain = %s,\n    .elem = %s,\n};\n"
            % (name, owner, field, kind, size, r.max or 0, self.min_wire(r),
               "TRUE" if self.plain(r) else "FALSE", elem))
        return "&" + name

    def run(self, hname):
        p = self.p
        guard = os.path.basename(hname)
        h, c = self.h, self.c
        h.append("/* Generated by gen_protocol.py from %s: do not edit. */\n#pragma once\n"
                 % os.path.basename(self.args.description))
        h.append("#include <glib.h>\n\n#include \"rpc/rpc_proc.h\"\n#include \"rpc/xdr.h\"\n")
        c.append("/* Generated by gen_protocol.py from %s: do not edit. */\n"
                 % os.path.basename(self.args.description))
        c.append("#include \"rpc/%s\"\n\n#include <stddef.h>\n#include <string.h>\n\n%s\n" % (
            guard, "".join("#include \"%s\"\n" % inc for inc in self.args.include)))

        for kind, name in p.order:
            if kind == "const":
                h.append("#define %s %d\n" % (name, p.consts[name]))
            elif kind == "enum":
                if name == self.args.procedures:
                    continue
                h.append("typedef enum {\n%s} %s;\n" % ("".join(
                    "    %s = %d,\n" % (m, v) for m, v, _ in p.enums[name]), name))
            elif kind == "struct":
                h.append("typedef struct %s {\n%s} %s;\nextern const qvirXdrType %s_type;\n" % (
                    name, "".join("    %s;\n" % self.cdecl(t, f) for f, t in p.structs[name]),
                    name, name))
                self.aggregate_desc(name)
            elif kind == "union":
                dname, arms = p.unions[name]
                h.append("typedef struct %s {\n    gint32 %s;\n    union {\n%s    } u;\n} %s;\n"
                         "extern const qvirXdrType %s_type;\n" % (
                             name, dname, "".join("        %s;\n" % self.cdecl(t, f).replace(
                                 "\n", "\n    ") for _, f, t in arms), name, name))
                self.aggregate_desc(name)
            elif kind == "typedef":
                self.typedef_desc(name)
        if self.args.procedures:
            self.procedures()
        return "".join(h), "".join(c)

    def flush_anon(self):
        self.c.extend(self.anon)
        self.anon = []

    def aggregate_desc(self, name):
        """The table of a struct (its fields) or a union (its arms, after the int
        discriminant at offset 0)."""
        members = []
        if name in self.p.structs:
            kind = "STRUCT"
            for f, t in self.p.structs[name]:
                members.append("    {.name = \"%s\", .offset = offsetof(%s, %s), .type = %s},\n"
                               % (f, name, f, self.desc(t, name, f)))
        else:
            kind = "UNION"
            for val, f, t in self.p.unions[name][1]:
                members.append("    {.name = \"%s\", .value = %d, .offset = offsetof(%s, u.%s), "
                               ".type = %s},\n" % (f, val, name, f, self.desc(t, name, "u." + f)))
        self.flush_anon()
        self.c.append("static const qvirXdrMember %s_members[] = {\n%s};\n" % (
            name, "".join(members)))
        ref = TypeRef("named", name=name)
        self.c.append("const qvirXdrType %s_type = {\n    .name = \"%s\",\n"
                      "    .kind = QVIR_XDR_KIND_%s,\n    .size = sizeof(%s),\n"
                      "    .minWire = %d,\n    .plain = %s,\n    .members = %s_members,\n"
                      "    .nmembers = G_N_ELEMENTS(%s_members),\n};\n\n"
                      % (name, name, kind, name, self.min_wire(ref),
                         "TRUE" if self.plain(ref) else "FALSE", name, name))

    def typedef_desc(self, name):
        ref = self.p.typedefs[name]
        r = self.resolve(ref)
        if r.kind in ("base", "named") and ref.kind != "optional":
            # a plain alias of a scalar or struct: the C type is the target's
            self.h.append("typedef %s %s;\n" % (self.ctype(r), name))
            self.h.append("#define %s_type %s\n" % (name, self.desc(r, name, "")[1:]))
            return
        decl = self.cdecl(ref, name)
        if r.kind in ("string", "opt_string", "optional"):
            self.h.append("typedef %s;\n" % decl)
        elif r.kind == "opaque_fixed":
            self.h.append("typedef guint8 %s[%d];\n" % (name, r.max))
        else:
            raise DescError("typedef %s: only scalars, structs, strings, optionals and fixed "
                            "opaques can be named" % name)
        kind = {"string": "STRING", "opt_string": "OPT_STRING", "optional": "OPTIONAL",
                "opaque_fixed": "OPAQUE_FIXED"}[r.kind]
        elem = self.desc(r.elem, name, "elem") if r.kind == "optional" else "NULL"
        self.flush_anon()
        self.h.append("extern const qvirXdrType %s_type;\n" % name)
        self.c.append("const qvirXdrType %s_type = {\n    .name = \"%s\",\n"
                      "    .kind = QVIR_XDR_KIND_%s,\n    .size = sizeof(%s),\n    .max = %uu,\n"
                      "    .minWire = %d,\n    .plain = %s,\n    .elem = %s,\n};\n\n"
                      % (name, name, kind, name, r.max or 0, self.min_wire(r),
                         "TRUE" if self.plain(r) else "FALSE", elem))

    def type_key(self, ref):
        """A canonical spelling of REF, to tell whether two fields have the same C layout."""
        r = self.resolve(ref)
        elem = self.type_key(r.elem) if r.elem is not None else ""
        return "%s(%s,%s,%s)" % (r.kind, r.name, r.max, elem)

    def serve_spec(self, member, annots):
        """The @serve annotation of MEMBER: (flags, target member or None, defaults)."""
        serve = [x for x in annots if x.split(":")[0].strip() == "serve"]
        others = [x for x in annots
                  if x.split(":")[0].strip() not in ("serve", "call", "reply")]
        if others:
            raise DescError("%s: unknown annotation '@%s'" % (member, others[0]))
        if len(serve) > 1:
            raise DescError("%s: more than one @serve" % member)
        if not serve:
            return None
        words = serve[0].split(":", 1)[1].split() if ":" in serve[0] else []
        flags, target, defaults = [], None, {}
        while words:
            w = words.pop(0)
            if w in SERVE_FLAGS:
                flags.append(w)
            elif w == "as" and words:
                target = self.args.proc_prefix + words.pop(0)
            elif w.startswith("ret.") and "=" in w and target:
                field, src = w[4:].split("=", 1)
                defaults["ret." + field] = src
            elif "=" in w and target:
                field, val = w.split("=", 1)
                defaults[field] = int(val, 0)
            else:
                raise DescError("%s: unknown @serve word '%s'" % (member, w))
        return flags, target, defaults

    def move_block(self, src, dst, srcExpr, dstExpr, pairs, member):
        """A C block moving fields of struct SRC (at SRCEXPR) into DST (at DSTEXPR): PAIRS
        of (destination field, source field), of the same type; what is not moved stays
        with SRC."""
        sfields, dfields = dict(self.p.structs[src]), dict(self.p.structs[dst])
        out = ["{\n        %s *from = %s;\n        %s *to = %s;\n\n" % (src, srcExpr, dst, dstExpr)]
        for d, f in pairs:
            if f not in sfields or d not in dfields or \
                    self.type_key(dfields[d]) != self.type_key(sfields[f]):
                raise DescError("%s: no field of %s matches '%s' of %s" % (member, src, d, dst))
            out.append("        memcpy(&to->%s, &from->%s, sizeof(to->%s));\n"
                       "        memset(&from->%s, 0, sizeof(from->%s));\n" % (d, f, d, f, f))
        out.append("    }\n")
        return "".join(out)

    def alias_call(self, info, target):
        """The body of a procedure served as another one (@serve: as TARGET): its
        arguments move into the target's (the fields it lacks take their defaults), and
        the target's return value moves back into its own (or is dropped)."""
        member, types = info["member"], info["types"]
        defaults = {f: v for f, v in info["defaults"].items() if not f.startswith("ret.")}
        retmap = {f[4:]: v for f, v in info["defaults"].items() if f.startswith("ret.")}
        ttypes = target["types"]
        body = []
        if "args" in ttypes:
            tfields = [f for f, _ in self.p.structs[ttypes["args"]]]
            bad = [f for f in defaults if f not in tfields]
            if bad:
                raise DescError("%s: %s has no field '%s'" % (member, ttypes["args"], bad[0]))
            init = ", ".join(".%s = %d" % (f, v) for f, v in defaults.items())
            body.append("    %s targs = {%s};\n" % (ttypes["args"], init or "0"))
        if "ret" in ttypes:
            body.append("    %s tret = {0};\n" % ttypes["ret"])
        body.append("    gboolean ok;\n\n")
        if "args" in types:
            if "args" not in ttypes:
                raise DescError("%s: %s takes no arguments" % (member, target["member"]))
            body.append("    " + self.move_block(
                types["args"], ttypes["args"], "args", "&targs",
                [(f, f) for f, _ in self.p.structs[types["args"]]], member))
        call = ["ctx"] + (["&targs"] if "args" in ttypes else []) + \
            (["&tret"] if "ret" in ttypes else []) + ["error"]
        body.append("    ok = %s(%s);\n" % (target["handler"], ", ".join(call)))
        if "args" in ttypes:
            body.append("    qvirXdrClear(&%s_type, &targs);\n" % ttypes["args"])
        if "ret" in types:
            if "ret" not in ttypes:
                raise DescError("%s: %s returns nothing" % (member, target["member"]))
            body.append("    if (ok)\n    " + self.move_block(
                ttypes["ret"], types["ret"], "&tret", "ret",
                [(f, retmap.get(f, f)) for f, _ in self.p.structs[types["ret"]]], member))
        if "ret" in ttypes:
            body.append("    qvirXdrClear(&%s_type, &tret);\n" % ttypes["ret"])
        body.append("    return ok;\n")
        return "".join(body)

    def call_spec(self, member, annots):
        """The @call annotation of MEMBER: (ret field or None, function, [parameters],
        {options}); a @reply is (ret field, None, [value], {})."""
        calls = [x.split(":", 1)[1].strip() for x in annots
                 if x.split(":")[0].strip() == "call" and ":" in x]
        replies = [x.split(":", 1)[1].strip() for x in annots
                   if x.split(":")[0].strip() == "reply" and ":" in x]
        if replies:
            m = re.match(r'^(\w+)\s*=\s*("[^"\\]*"|\w+)$', replies[0])
            if not m or calls or len(replies) > 1:
                raise DescError("%s: @reply wants RETFIELD = \"STRING\" or a number or macro"
                                % member)
            return m.group(1), None, [m.group(2)], {}
        if not calls:
            return None
        m = re.match(r"^(?:(\w*)\s*=\s*)?(\w+)\(([^()]*)\)\s*(.*)$", calls[0])
        if not m or len(calls) > 1:
            raise DescError("%s: @call wants [RETFIELD =] FUNCTION(PARAM, ...) [WORD ...]"
                            % member)
        params = [x.strip() for x in m.group(3).split(",") if x.strip()]
        opts = {"noerror": False, "ret": {}}
        for w in m.group(4).split():
            if w == "noerror":
                opts["noerror"] = True
            elif re.match(r"^ret\.\w+=\w+$", w):
                field, src = w[4:].split("=", 1)
                opts["ret"][field] = src
            else:
                raise DescError("%s: unknown @call word '%s'" % (member, w))
        return m.group(1), m.group(2), params, opts

    def field_type(self, struct, path, member):
        """The TypeRef of PATH ("snap.dom") inside STRUCT."""
        ref = TypeRef("named", name=struct)
        for part in path.split("."):
            r = self.resolve(ref)
            fields = dict(self.p.structs.get(r.name, [])) if r.kind == "named" else {}
            if part not in fields:
                raise DescError("%s: %s has no field '%s'" % (member, struct, path))
            ref = fields[part]
        return self.resolve(ref)

    def driver_expr(self, func):
        """The driver FUNC takes first: that of the longest --driver prefix it starts
        with, else the context's."""
        best = None
        for prefix, expr in self.drivers:
            if func.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, expr)
        return best[1] if best else "ctx->%s" % self.args.ctx_driver

    def generated_call(self, info, call):
        """The body of a handler that is one driver call (@call): the arguments are the
        named fields (a handle struct passes its keys: a domain its UUID), between the
        driver and the error; RETFIELD receives the result."""
        member, types = info["member"], info["types"]
        retField, func, params, opts = call
        if func is None:
            # @reply: a constant answer
            if "ret" not in types:
                raise DescError("%s: @reply but nothing is returned" % member)
            r = self.field_type(types["ret"], retField, member)
            value = params[0]
            if value.startswith('"') != (r.kind == "string"):
                raise DescError("%s: @reply value does not suit '%s'" % (member, retField))
            if r.kind == "string":
                value = "g_strdup(%s)" % value
            return "    ret->%s = %s;\n    return TRUE;\n" % (retField, value)
        argv = [self.driver_expr(func)]
        out = None
        for param in params:
            if re.match(r"^(-?\d+|[A-Z][A-Z0-9_]*)$", param):
                argv.append(param)  # a number or a macro, as written
                continue
            if param.startswith("&"):
                # a struct of the driver's that it fills: its members go to the _ret
                if out or "ret" not in types or retField is not None:
                    raise DescError("%s: '%s' wants a _ret and no RETFIELD, once"
                                    % (member, param))
                out = param[1:]
                argv.append("&out")
                continue
            if "args" not in types:
                raise DescError("%s: @call names '%s' but there are no arguments"
                                % (member, param))
            r = self.field_type(types["args"], param, member)
            keys = self.handles[r.name]["keys"] if r.kind == "named" and \
                r.name in self.handles else [None]
            argv += ["args->%s%s" % (param, "." + k if k else "") for k in keys]
        if not opts["noerror"]:
            argv.append("error")
        expr = "%s(%s)" % (func, ", ".join(argv))
        if out:
            rfields = self.p.structs[types["ret"]]
            if any(self.resolve(t).kind != "base" for _, t in rfields):
                raise DescError("%s: '%s' fills scalars only" % (member, "&" + out))
            copies = "".join("    ret->%s = (%s)out.%s;\n" % (
                f, self.ctype(t), opts["ret"].get(f, f)) for f, t in rfields)
            return "    %s out = {0};\n\n    if (!%s)\n        return FALSE;\n%s" \
                "    return TRUE;\n" % (out, expr, copies)
        if opts["ret"]:
            raise DescError("%s: 'ret.' words go with a '&TYPE' parameter" % member)
        if retField == "" or retField is None:
            # "= FUNCTION(...)": success alone, the _ret stays all zero
            if retField == "" and "ret" not in types:
                raise DescError("%s: '= %s(...)' but nothing is returned" % (member, func))
            if retField is None and "ret" in types:
                raise DescError("%s: @call must say which field of %s it fills"
                                % (member, types["ret"]))
            if opts["noerror"]:
                return "    %s;\n    return TRUE;\n" % expr
            return "    return %s;\n" % expr
        if "ret" not in types:
            raise DescError("%s: @call fills '%s' but nothing is returned" % (member, retField))
        r = self.field_type(types["ret"], retField, member)
        if r.kind == "named" and r.name in self.handles:
            h = self.handles[r.name]
            if not h["ref"]:
                return "    return %s(&ret->%s, %s);\n" % (self.args.handle_return, retField,
                                                          expr)
            return ("    g_autoptr(%s) ref = %s;\n\n    if (!ref)\n        return FALSE;\n"
                    "    %s(&ret->%s, ref);\n    return TRUE;\n"
                    % (h["ref"], expr, h["take"], retField))
        if r.kind == "array_var":
            return self.list_call(types, retField, r, expr, member)
        if r.kind == "string":
            return "    ret->%s = %s;\n    return ret->%s != NULL;\n" % (retField, expr, retField)
        if r.kind == "base" and r.name == "int":
            if opts["noerror"]:
                return "    ret->%s = %s;\n    return TRUE;\n" % (retField, expr)
            return "    return (ret->%s = %s) >= 0;\n" % (retField, expr)
        raise DescError("%s: @call cannot fill '%s'" % (member, retField))

    def list_call(self, types, retField, r, expr, member):
        """RETFIELD, an array, from the driver's GPtrArray EXPR (NULL: its error): of
        strings, cut to the client's max* argument (maxnames, maxuuids) when there is one; of handles,
        counted in the _ret's "ret" and sent only when the client's need_results asks."""
        elem = self.resolve(r.elem)
        afields = dict(self.p.structs[types["args"]]) if "args" in types else {}
        rfields = dict(self.p.structs[types["ret"]])
        if elem.kind == "string":
            # the client's limit: libvirt's maxnames, maxuuids...
            limit = next((f for f, t in afields.items() if f.startswith("max") and
                          self.resolve(t).kind == "base"), None)
            return "    return %s(&ret->%s.len, &ret->%s.val, %s, %s, %d, \"%s\", " \
                "error);\n" % (self.args.strings_return, retField, retField, expr,
                                "args->" + limit if limit else str(r.max), r.max,
                                limit or "maxnames")
        if elem.kind != "named" or elem.name not in self.handles or \
                not self.handles[elem.name]["ref"]:
            raise DescError("%s: @call cannot fill the array '%s'" % (member, retField))
        body = ["    g_autoptr(GPtrArray) list = %s;\n\n    if (!list)\n        return FALSE;\n"
                % expr]
        if "ret" in rfields:
            body.append("    ret->ret = list->len;\n")
        if "need_results" in afields:
            body.append("    if (!args->need_results)\n        return TRUE;\n")
        body.append("    ret->%s.val = g_new0(%s, list->len + 1);\n    ret->%s.len = list->len;\n"
                    "    for (guint i = 0; i < list->len; i++)\n"
                    "        %s(&ret->%s.val[i], g_ptr_array_index(list, i));\n    return TRUE;\n"
                    % (retField, elem.name, retField, self.handles[elem.name]["take"], retField))
        return "".join(body)

    def procedures(self):
        a = self.args
        members = self.p.enums.get(a.procedures)
        if members is None:
            raise DescError("no enum '%s'" % a.procedures)
        last = max(v for _, v, _ in members) + 1
        self.h.append("\ntypedef enum {\n%s    %sLAST = %d,\n} %s;\n" % (
            "".join("    %s = %d,\n" % (m, v) for m, v, _ in members), a.proc_prefix, last,
            a.procedures))
        self.h.append("\ntypedef struct _%s %s;\n\n" % (a.ctx, a.ctx))
        self.h.append("/* The procedures, indexed by number (%sLAST entries). */\n"
                      "extern const qvirRpcProcedure %s_table[%sLAST];\n\n"
                      "/* The handlers, one per served procedure. */\n"
                      % (a.proc_prefix, a.procedures, a.proc_prefix))
        procs = {}
        seen = set()
        for member, num, annots in members:
            if not member.startswith(a.proc_prefix):
                raise DescError("%s does not start with %s" % (member, a.proc_prefix))
            if num in seen or num <= 0:
                raise DescError("%s: procedure number %d is taken or invalid" % (member, num))
            seen.add(num)
            words = member[len(a.proc_prefix):].split("_")
            camel = "".join(API_WORDS.get(w, w.capitalize()) for w in words)
            base = "%s_%s" % (a.prefix, "_".join(words).lower())
            types = {sfx: base + "_" + sfx for sfx in ("args", "ret", "msg")
                     if base + "_" + sfx in self.p.structs}
            spec = self.serve_spec(member, annots)
            call = self.call_spec(member, annots)
            if call and (not spec or spec[1]):
                raise DescError("%s: @call goes with a @serve of its own" % member)
            procs[member] = {"member": member, "camel": camel, "types": types, "spec": spec,
                             "call": call,
                             "handler": a.handler_prefix + camel,
                             "defaults": spec[2] if spec else {}}

        # the typed handlers: declared in the header, or generated here from @call
        for member, _, _ in members:
            info = procs[member]
            types, spec = info["types"], info["spec"]
            if not spec or spec[1]:
                continue
            params = ["%s *ctx" % a.ctx]
            params += ["%s *%s" % (types[sfx], sfx) for sfx in ("args", "ret") if sfx in types]
            proto = "%s(%s, GError **error)" % (info["handler"], ", ".join(params))
            if info["call"]:
                self.c.append("static gboolean\n%s\n{\n%s}\n\n" % (
                    proto, self.generated_call(info, info["call"])))
            else:
                self.h.append("gboolean %s;\n" % proto)

        rows = []
        for member, num, _ in members:
            info = procs[member]
            types, spec = info["types"], info["spec"]
            fields = ["    [%s] = {\n        .name = \"vir%s\",\n" % (member, info["camel"]),
                      "        .dispatch = \"%sDispatch%s\",\n"
                      % (a.prefix, dispatch_proc_name(member[len(a.proc_prefix):].split("_")))]
            fields += ["        .%s = &%s_type,\n" % (sfx, types[sfx])
                       for sfx in ("args", "ret", "msg") if sfx in types]
            if spec:
                flags, target, _ = spec
                if target:
                    tinfo = procs.get(target)
                    if not tinfo or not tinfo["spec"] or tinfo["spec"][1]:
                        raise DescError("%s: @serve as %s, which is not served by a handler of "
                                        "its own" % (member, target))
                    body = self.alias_call(info, tinfo)
                else:
                    call = ["ctx"] + [sfx for sfx in ("args", "ret") if sfx in types]
                    body = "    return %s(%s, error);\n" % (info["handler"], ", ".join(call))
                self.c.append("static gboolean\n%sCall(gpointer ctx, gpointer args, gpointer ret, "
                              "GError **error)\n{\n%s}\n\n" % (info["handler"], body))
                fields.append("        .flags = QVIR_RPC_PROC_SERVED%s,\n" % "".join(
                    " | " + SERVE_FLAGS[w] for w in flags))
                fields.append("        .handler = %sCall,\n" % info["handler"])
            fields.append("    },\n")
            rows.append("".join(fields))
        self.c.append("const qvirRpcProcedure %s_table[%sLAST] = {\n%s};\n"
                      % (a.procedures, a.proc_prefix, "".join(rows)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procedures", help="the enum whose members are procedure numbers")
    ap.add_argument("--prefix", default="remote", help="prefix of the _args/_ret/_msg types")
    ap.add_argument("--proc-prefix", default="REMOTE_PROC_")
    ap.add_argument("--handler-prefix", default="remoteDispatch")
    ap.add_argument("--ctx", default="qvirRemoteCtx", help="the handlers' context type")
    ap.add_argument("--ctx-driver", default="drv", help="the context's driver member (@call)")
    ap.add_argument("--driver", action="append", default=[], metavar="PREFIX=EXPR",
                    help="the driver a @call FUNCTION starting with PREFIX takes (default: the "
                    "context's driver member)")
    ap.add_argument("--handle", action="append", default=[],
                    metavar="STRUCT:KEY[,KEY...][:REFTYPE:TAKE]",
                    help="a struct that names a driver object, passed to @call by its KEYs; "
                    "returned from the driver's REFTYPE * by TAKE(STRUCT *out, REFTYPE *ref), "
                    "which moves what it keeps")
    ap.add_argument("--handle-return", default="qvirRemoteDomainReturn",
                    help="fills a handle without REFTYPE from the driver's object (@call)")
    ap.add_argument("--strings-return", default="qvirRemoteStringsTake",
                    help="fills a string array from the driver's GPtrArray (@call)")
    ap.add_argument("--include", action="append", default=[],
                    help="a header the generated source includes (for @call)")
    ap.add_argument("description")
    ap.add_argument("header")
    ap.add_argument("source")
    args = ap.parse_args()
    try:
        with open(args.description) as f:
            parser = Parser(tokenize(f.read()))
        parser.parse()
        header, source = Generator(parser, args).run(args.header)
    except DescError as e:
        sys.exit("%s: %s" % (args.description, e))
    for path, text in ((args.header, header), (args.source, source)):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)


if __name__ == "__main__":
    main()
