/* reaper-validate: say, per object and field, what Reaper enforces, ignores or refuses in Pod,
 * workload and reaper.io manifests; print the rule table; emit the admission policy. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cleanup.h"
#include "cmdline.h"
#include "jpath.h"
#include "kyaml.h"
#include "policy.h"
#include "rules.h"
#include "util.h"
#include "yamlout.h"

#define MAX_INPUT (64u << 20)

struct opts {
    const char *runtime_class;
    bool json, strict, quiet, rules;
    const char *emit_policy;
};

/* One input's results while its documents stream by. */
struct run {
    const struct opts *o;
    const char *file;
    json_t *objects; /* --output json */
    size_t counts[3];
    size_t severity[3];
};

static const char USAGE[] =
    "usage: reaper-validate [--runtime-class NAME] [--output text|json] [--strict] [--quiet]\n"
    "                       FILE|- ...\n"
    "       reaper-validate --rules [--output text|json]\n"
    "       reaper-validate --emit-policy v1|v1beta1 [--runtime-class NAME]\n"
    "Exit status: 0 ok, 1 a refused field (or, with --strict, an ignored one), 2 usage,\n"
    "read or parse error.\n";

static const char *verdict_upper(enum verdict v)
{
    static const char *const names[] = {"ENFORCED", "IGNORED", "REFUSED"};
    return names[v];
}

static void print_text(const struct run *run, size_t doc, size_t line,
                       const struct object_report *rep)
{
    printf("%s:%zu (line %zu): %s %s%s%s", run->file, doc, line, *rep->kind ? rep->kind : "?",
           rep->namespace, *rep->namespace ? "/" : "", rep->name);
    if (rep->skipped) {
        printf(": skipped: %s\n", rep->skipped);
        return;
    }
    putchar('\n');
    for (size_t i = 0; i < rep->n_findings; i++) {
        const struct finding *f = &rep->findings[i];
        if (run->o->quiet && finding_severity(f) == SEV_NONE)
            continue;
        printf("  %-8s  %s: %s\n", verdict_upper(f->rule->verdict), f->path, f->rule->reason);
    }
}

static json_t *report_json(const struct run *run, size_t doc, size_t line,
                           const struct object_report *rep)
{
    static const char *const sev[] = {"none", "warning", "error"};
    json_t *findings = json_array();
    for (size_t i = 0; i < rep->n_findings; i++) {
        const struct finding *f = &rep->findings[i];
        json_array_append_new(
            findings, json_pack("{s:s, s:s, s:s, s:s, s:s}", "path", f->path, "rule",
                                f->rule->field, "verdict", verdict_name(f->rule->verdict),
                                "severity", sev[finding_severity(f)], "reason", f->rule->reason));
    }
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:b, s:o}", "file", run->file, "document",
                          (json_int_t)doc, "line", (json_int_t)line, "kind", rep->kind, "namespace",
                          rep->namespace, "name", rep->name, "checked", !rep->skipped, "findings",
                          findings);
    if (rep->skipped)
        json_object_set_new(o, "skipped", json_string(rep->skipped));
    return o;
}

static void check_one(struct run *run, size_t doc, size_t line, const json_t *obj)
{
    struct object_report rep;
    check_object(obj, run->o->runtime_class, &rep);
    for (size_t i = 0; i < rep.n_findings; i++) {
        run->counts[rep.findings[i].rule->verdict]++;
        run->severity[finding_severity(&rep.findings[i])]++;
    }
    if (run->o->json)
        json_array_append_new(run->objects, report_json(run, doc, line, &rep));
    else
        print_text(run, doc, line, &rep);
    object_report_clear(&rep);
}

/* kubectl's `kind: List` (and FooList) holds objects in items. */
static int on_document(size_t index, size_t line, json_t *doc, void *ud, rerr **err)
{
    struct run *run = ud;
    if (json_is_null(doc))
        return 0; /* an empty document: nothing to check */
    if (!json_is_object(doc))
        return rerr_setx(err, EINVAL, "document %zu (line %zu): not a YAML mapping", index, line);
    const json_t *items = json_object_get(doc, "items");
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind && str_endswith(kind, "List") && json_is_array(items)) {
        size_t i;
        const json_t *item;
        json_array_foreach(items, i, item) check_one(run, index, line, item);
        return 0;
    }
    check_one(run, index, line, doc);
    return 0;
}

static int check_input(struct run *run, rerr **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = strcmp(run->file, "-") == 0 ? read_fd_all(STDIN_FILENO, MAX_INPUT, &buf, &len, err)
                                        : read_file(run->file, MAX_INPUT, &buf, &len, err);
    if (r < 0)
        return r;
    r = kyaml_parse_stream(buf, len, on_document, run, err);
    return r < 0 ? rerr_wrap(err, "%s", strcmp(run->file, "-") == 0 ? "stdin" : run->file) : 0;
}

static int print_rules(const struct opts *o)
{
    json_t *all = o->json ? json_array() : NULL;
    if (!o->json)
        puts("| scope | field | value | verdict | why |\n|---|---|---|---|---|");
    for (size_t i = 0; i < vrules_len; i++) {
        const struct vrule *r = &vrules[i];
        const char *verdict = verdict_name(r->verdict);
        if (o->json) {
            json_array_append_new(all, json_pack("{s:s, s:s, s:s?, s:s, s:b, s:s}", "scope",
                                                 scope_name(r->scope), "field", r->field, "value",
                                                 r->value, "verdict", verdict, "always_set",
                                                 r->always_set, "reason", r->reason));
            continue;
        }
        printf("| %s | `%s%s` | %s%s%s | %s%s | %s |\n", scope_name(r->scope),
               scope_prefix(r->scope), r->field, r->value ? "`" : "", r->value ? r->value : "any",
               r->value ? "`" : "", verdict, r->always_set ? " (always set)" : "", r->reason);
    }
    if (o->json) {
        json_dumpf(all, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(all);
    }
    return 0;
}

static int emit_policy(const struct opts *o)
{
    json_t *docs = policy_objects(o->emit_policy, o->runtime_class);
    if (!docs) {
        fprintf(stderr, "reaper-validate: --emit-policy %s: want v1 or v1beta1\n", o->emit_policy);
        return 2;
    }
    printf("# Generated by `reaper-validate --emit-policy %s` from src/validate/rules.c; do not "
           "edit.\n# docs/admission.md explains it.\n",
           o->emit_policy);
    yaml_write_docs(stdout, docs);
    json_decref(docs);
    return 0;
}

/* Returns 0 to run, 1 to exit successfully (--help, --version), <0 on a usage error. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const char *const outputs[] = {"text", "json", NULL};
    unsigned output = 0;
    const struct cmdline_opt table[] = {
        {.name = "runtime-class", .kind = CL_STRING, .target = &o->runtime_class},
        {.name = "output", .kind = CL_CHOICE, .target = &output, .choices = outputs},
        {.name = "strict", .kind = CL_FLAG, .target = &o->strict},
        {.name = "quiet", .kind = CL_FLAG, .target = &o->quiet},
        {.name = "rules", .kind = CL_FLAG, .target = &o->rules},
        {.name = "emit-policy", .kind = CL_STRING, .target = &o->emit_policy},
        {0},
    };
    const struct cmdline cl = {
        .program = "reaper-validate", .usage = USAGE, .opts = table, .positionals = true};
    int r = cmdline_parse(&cl, argc, argv);
    o->json = output == 1;
    if (r == 0 && !*o->runtime_class) {
        fputs("reaper-validate: --runtime-class: empty name\n", stderr);
        return -EINVAL;
    }
    return r;
}

static int check_inputs(const struct opts *o, char **files, int n)
{
    struct run run = {.o = o, .objects = json_array()};
    bool failed_read = false;
    for (int i = 0; i < n; i++) {
        _cleanup_rerr_ rerr *err = NULL;
        run.file = files[i];
        if (check_input(&run, &err) < 0) {
            fprintf(stderr, "reaper-validate: %s\n", rerr_msg(err));
            failed_read = true;
        }
    }
    if (o->json) {
        json_t *out = json_pack("{s:o, s:{s:I, s:I, s:I}}", "objects", run.objects, "summary",
                                "enforced", (json_int_t)run.counts[VERDICT_ENFORCED], "ignored",
                                (json_int_t)run.counts[VERDICT_IGNORED], "refused",
                                (json_int_t)run.counts[VERDICT_REFUSED]);
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(out);
    } else {
        json_decref(run.objects);
        printf("%zu refused, %zu ignored, %zu enforced\n", run.counts[VERDICT_REFUSED],
               run.counts[VERDICT_IGNORED], run.counts[VERDICT_ENFORCED]);
    }
    if (failed_read)
        return 2;
    if (run.severity[SEV_ERROR] || (o->strict && run.severity[SEV_WARNING]))
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.runtime_class = "reaper-v2"};
    int r = parse_opts(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (o.rules)
        return print_rules(&o);
    if (o.emit_policy)
        return emit_policy(&o);
    if (optind >= argc) {
        fputs("reaper-validate: no input: name files, or - for stdin\n", stderr);
        fputs(USAGE, stderr);
        return 2;
    }
    return check_inputs(&o, argv + optind, argc - optind);
}
