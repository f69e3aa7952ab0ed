/*
 * reaper.conf: KEY=VALUE lines ('#' comments, blank lines, optional matching quotes around the
 * value), then environment overrides. Every setting is validated where it is read so a typo
 * fails with the file and line instead of surfacing later as a strange runtime error.
 */
#include "config.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_SIZE (64 * 1024)

struct choice {
    const char *name;
    int value;
};

static const struct choice isolation_choices[] = {
    {"namespace", ISOLATION_NAMESPACE}, {"node", ISOLATION_NODE}, {NULL, 0}};
static const struct choice dns_choices[] = {
    {"host", DNS_HOST}, {"kubernetes", DNS_KUBERNETES}, {"k8s", DNS_KUBERNETES}, {NULL, 0}};
static const struct choice filter_choices[] = {
    {"append", FILTER_APPEND}, {"replace", FILTER_REPLACE}, {NULL, 0}};

static _must_check_ int choice_parse(const struct choice *c, const char *s, int *out)
{
    for (; c->name; c++) {
        if (strcmp(c->name, s) == 0) {
            *out = c->value;
            return 0;
        }
    }
    return -EINVAL;
}

static void replace_str(char **dst, const char *value)
{
    free(*dst);
    *dst = value ? xstrdup(value) : NULL;
}

static _must_check_ int set_path(char **dst, const char *value)
{
    if (value[0] != '/')
        return -EINVAL;
    replace_str(dst, value);
    return 0;
}

/* Log files: empty means "none". */
static _must_check_ int set_optional_path(char **dst, const char *value)
{
    if (value[0] == '\0') {
        replace_str(dst, NULL);
        return 0;
    }
    return set_path(dst, value);
}

static _must_check_ int set_path_list(char ***dst, const char *value)
{
    _cleanup_strv_ char **v = strv_split(value, ":");
    for (size_t i = 0; v[i]; i++)
        if (v[i][0] != '/')
            return -EINVAL;
    strv_free(*dst);
    *dst = steal_ptr(v);
    return 0;
}

static _must_check_ int set_bool(bool *dst, const char *value)
{
    return parse_bool(value, dst) ? 0 : -EINVAL;
}

/* Paths derived from runtime_root until set explicitly. */
static void derive_paths(struct reaper_config *cfg)
{
    if (!cfg->overlay_base_set) {
        free(cfg->overlay_base);
        cfg->overlay_base = xasprintf("%s/overlay", cfg->runtime_root);
    }
    if (!cfg->filter_dir_set) {
        free(cfg->filter_dir);
        cfg->filter_dir = xasprintf("%s/overlay-filters", cfg->runtime_root);
    }
}

static _must_check_ int apply_config_path(struct reaper_config *cfg, const char *v)
{
    return set_path(&cfg->config_path, v);
}
static _must_check_ int apply_runtime_root(struct reaper_config *cfg, const char *v)
{
    int r = set_path(&cfg->runtime_root, v);
    if (r == 0)
        derive_paths(cfg);
    return r;
}
static _must_check_ int apply_shim_log(struct reaper_config *cfg, const char *v)
{
    return set_optional_path(&cfg->shim_log, v);
}
static _must_check_ int apply_runtime_log(struct reaper_config *cfg, const char *v)
{
    return set_optional_path(&cfg->runtime_log, v);
}
static _must_check_ int apply_isolation(struct reaper_config *cfg, const char *v)
{
    int m;
    int r = choice_parse(isolation_choices, v, &m);
    if (r == 0)
        cfg->isolation = (enum isolation_mode)m;
    return r;
}
static _must_check_ int apply_overlay_base(struct reaper_config *cfg, const char *v)
{
    int r = set_path(&cfg->overlay_base, v);
    if (r == 0)
        cfg->overlay_base_set = true;
    return r;
}
static _must_check_ int apply_dns_mode(struct reaper_config *cfg, const char *v)
{
    return dns_mode_parse(v, &cfg->dns_mode);
}
static _must_check_ int apply_shared_root(struct reaper_config *cfg, const char *v)
{
    return set_bool(&cfg->shared_root, v);
}

static _must_check_ int apply_annotations_enabled(struct reaper_config *cfg, const char *v)
{
    return set_bool(&cfg->annotations_enabled, v);
}
static _must_check_ int apply_filter_enabled(struct reaper_config *cfg, const char *v)
{
    return set_bool(&cfg->filter_enabled, v);
}
static _must_check_ int apply_filter_mode(struct reaper_config *cfg, const char *v)
{
    int m;
    int r = choice_parse(filter_choices, v, &m);
    if (r == 0)
        cfg->filter_mode = (enum filter_mode)m;
    return r;
}
static _must_check_ int apply_filter_paths(struct reaper_config *cfg, const char *v)
{
    return set_path_list(&cfg->filter_paths, v);
}
static _must_check_ int apply_filter_allowlist(struct reaper_config *cfg, const char *v)
{
    return set_path_list(&cfg->filter_allowlist, v);
}
static _must_check_ int apply_filter_dir(struct reaper_config *cfg, const char *v)
{
    int r = set_path(&cfg->filter_dir, v);
    if (r == 0)
        cfg->filter_dir_set = true;
    return r;
}

/* A name looked up on PATH (no '/'), or an absolute path. */
static _must_check_ int apply_criu(struct reaper_config *cfg, const char *v)
{
    if (v[0] == '\0' || (v[0] != '/' && strchr(v, '/')))
        return -EINVAL;
    replace_str(&cfg->criu, v);
    return 0;
}

static _must_check_ int apply_criu_mount_ns(struct reaper_config *cfg, const char *v)
{
    return set_optional_path(&cfg->criu_mount_ns, v);
}
static _must_check_ int apply_criu_timeout(struct reaper_config *cfg, const char *v)
{
    int64_t s;
    int r = parse_int64(v, 0, CRIU_TIMEOUT_MAX, &s);
    if (r == 0)
        cfg->criu_timeout = (unsigned)s;
    return r;
}

#define WANT_PATH  "an absolute path"
#define WANT_PATHS "colon-separated absolute paths"
#define WANT_BOOL  "true or false"

static const struct setting {
    const char *key;
    int (*apply)(struct reaper_config *cfg, const char *value);
    const char *want; /* for "invalid value" messages */
} settings[] = {
    {"REAPER_CONFIG", apply_config_path, WANT_PATH},
    {"REAPER_RUNTIME_ROOT", apply_runtime_root, WANT_PATH},
    {"REAPER_SHARED_ROOT", apply_shared_root, WANT_BOOL},
    {"REAPER_SHIM_LOG", apply_shim_log, WANT_PATH " or nothing"},
    {"REAPER_RUNTIME_LOG", apply_runtime_log, WANT_PATH " or nothing"},
    {"REAPER_OVERLAY_ISOLATION", apply_isolation, "namespace or node"},
    {"REAPER_OVERLAY_BASE", apply_overlay_base, WANT_PATH},
    {"REAPER_DNS_MODE", apply_dns_mode, "host, kubernetes or k8s"},
    {"REAPER_ANNOTATIONS_ENABLED", apply_annotations_enabled, WANT_BOOL},
    {"REAPER_FILTER_ENABLED", apply_filter_enabled, WANT_BOOL},
    {"REAPER_FILTER_MODE", apply_filter_mode, "append or replace"},
    {"REAPER_FILTER_PATHS", apply_filter_paths, WANT_PATHS},
    {"REAPER_FILTER_ALLOWLIST", apply_filter_allowlist, WANT_PATHS},
    {"REAPER_FILTER_DIR", apply_filter_dir, WANT_PATH},
    {"REAPER_CRIU", apply_criu, "an absolute path or a program name on PATH"},
    {"REAPER_CRIU_MOUNT_NS", apply_criu_mount_ns, WANT_PATH " or nothing"},
    {"REAPER_CRIU_TIMEOUT", apply_criu_timeout, "seconds (0 = no timeout)"},
};

static const struct setting *setting_find(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

int config_set(struct reaper_config *cfg, const char *key, const char *value, const char *origin,
               rerr **err)
{
    const struct setting *s = setting_find(key);
    if (s == NULL)
        return rerr_setx(err, ENOENT, "%s: unknown setting %s", origin, key);
    if (s->apply(cfg, value) < 0)
        return rerr_setx(err, EINVAL, "%s: %s: invalid value \"%s\" (want %s)", origin, key, value,
                         s->want);
    return 0;
}

void config_init_defaults(struct reaper_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->config_path = xstrdup(REAPER_DEFAULT_CONFIG);
    cfg->runtime_root = xstrdup(REAPER_DEFAULT_ROOT);
    cfg->isolation = ISOLATION_NAMESPACE;
    cfg->dns_mode = DNS_HOST;
    cfg->shared_root = true;
    cfg->annotations_enabled = true;
    cfg->filter_enabled = true;
    cfg->filter_mode = FILTER_APPEND;
    cfg->filter_paths = xcalloc(1, sizeof(char *));
    cfg->filter_allowlist = xcalloc(1, sizeof(char *));
    cfg->criu = xstrdup("criu");
    cfg->criu_timeout = CRIU_TIMEOUT_DEFAULT;
    derive_paths(cfg);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

/* One line of the file; line is modified in place. */
static _must_check_ int parse_line(struct reaper_config *cfg, char *line, const char *where,
                                   rerr **err)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (eq == NULL)
        return rerr_setx(err, EINVAL, "%s: expected KEY=VALUE", where);
    *eq = '\0';
    char *key = trim(s), *value = unquote(trim(eq + 1));
    if (*key == '\0')
        return rerr_setx(err, EINVAL, "%s: missing key before '='", where);
    if (strcmp(key, "REAPER_CONFIG") == 0) {
        log_warn("%s: REAPER_CONFIG is only read from the environment; ignored", where);
        return 0;
    }
    if (setting_find(key) == NULL) {
        log_warn("%s: unknown setting %s ignored", where, key);
        return 0;
    }
    return config_set(cfg, key, value, where, err);
}

int config_parse_text(struct reaper_config *cfg, const char *text, const char *origin, rerr **err)
{
    unsigned lineno = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        _cleanup_free_ char *line = xstrndup(p, n);
        _cleanup_free_ char *where = xasprintf("%s:%u", origin, ++lineno);
        int r = parse_line(cfg, line, where, err);
        if (r < 0)
            return r;
        p += n;
        if (*p)
            p++;
    }
    return 0;
}

static _must_check_ int apply_env(struct reaper_config *cfg, char *const *envp, rerr **err)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        const char *key = settings[i].key;
        const char *value = env_lookup(envp, key);
        if (value == NULL || strcmp(key, "REAPER_CONFIG") == 0)
            continue;
        int r = config_set(cfg, key, value, "environment", err);
        if (r < 0)
            return r;
    }
    return 0;
}

static _must_check_ int load_file(struct reaper_config *cfg, bool must_exist, rerr **err)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_rerr_ rerr *read_err = NULL;
    size_t len = 0;
    int r = read_file(cfg->config_path, CONFIG_MAX_SIZE, &text, &len, &read_err);
    if (r == -ENOENT && !must_exist)
        return 0;
    if (r < 0)
        return rerr_from(err, -r, rerr_msg(read_err));
    if (strlen(text) != len)
        return rerr_setx(err, EINVAL, "%s: contains a NUL byte", cfg->config_path);
    return config_parse_text(cfg, text, cfg->config_path, err);
}

int config_load(struct reaper_config *cfg, const char *path, char *const *envp, rerr **err)
{
    config_init_defaults(cfg);
    const char *file = path;
    if (file == NULL || *file == '\0')
        file = env_lookup(envp, "REAPER_CONFIG");
    bool named = file != NULL && *file != '\0';
    replace_str(&cfg->config_path, named ? file : REAPER_DEFAULT_CONFIG);
    int r = load_file(cfg, named, err);
    if (r == 0)
        r = apply_env(cfg, envp, err);
    if (r < 0)
        config_free(cfg);
    return r;
}

void config_free(struct reaper_config *cfg)
{
    free(cfg->config_path);
    free(cfg->runtime_root);
    free(cfg->shim_log);
    free(cfg->runtime_log);
    free(cfg->overlay_base);
    strv_free(cfg->filter_paths);
    strv_free(cfg->filter_allowlist);
    free(cfg->filter_dir);
    free(cfg->criu);
    free(cfg->criu_mount_ns);
    memset(cfg, 0, sizeof(*cfg));
}

const char *dns_mode_name(enum dns_mode m)
{
    return m == DNS_KUBERNETES ? "kubernetes" : "host";
}

int dns_mode_parse(const char *s, enum dns_mode *out)
{
    int m;
    int r = choice_parse(dns_choices, s, &m);
    if (r == 0)
        *out = (enum dns_mode)m;
    return r;
}
