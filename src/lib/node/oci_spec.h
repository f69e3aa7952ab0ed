/* The parts of an OCI runtime-spec config.json that Reaper honours (see docs/pod-fields.md). */
#ifndef REAPER_OCI_SPEC_H
#define REAPER_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "annotations.h"
#include "err.h"

struct oci_user {
    uid_t uid;
    gid_t gid;
    gid_t *additional_gids;
    size_t n_additional_gids;
    bool has_umask;
    mode_t umask;
};

struct oci_rlimit {
    int resource; /* RLIMIT_* from "RLIMIT_NOFILE" etc. */
    uint64_t soft, hard;
};

/* process.capabilities: bit n set = capability n listed. */
struct oci_caps {
    bool present; /* the object was there */
    uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct oci_process {
    bool terminal;
    unsigned console_height, console_width; /* consoleSize, 0 if absent */
    struct oci_user user;
    char **args; /* non-empty */
    char **env;  /* "K=V" strv, may be empty */
    char *cwd;   /* absolute; default "/" */
    struct oci_rlimit *rlimits;
    size_t n_rlimits;
    bool no_new_privileges;
    struct oci_caps caps;
};

struct oci_mount {
    char *destination; /* absolute */
    char *source;
    char *type;                /* may be NULL */
    char **options;            /* raw options */
    bool bind;                 /* type "bind" or option bind/rbind */
    bool recursive;            /* rbind */
    bool readonly;             /* "ro" */
    unsigned long propagation; /* MS_PRIVATE/MS_SLAVE/MS_SHARED (|MS_REC), 0 if unset */
};

/* The linux section's security fields, and the others Reaper refuses or ignores. */
struct oci_linux {
    char *seccomp_json;    /* linux.seccomp re-serialised (compact), NULL if absent */
    char **masked_paths;   /* linux.maskedPaths, may be NULL */
    char **readonly_paths; /* linux.readonlyPaths, may be NULL */
    struct kv *sysctl;     /* linux.sysctl */
    size_t n_sysctl;
    bool user_namespace; /* linux.namespaces has "user" */
    bool id_mappings;    /* linux.uidMappings or gidMappings non-empty */
};

struct oci_spec {
    struct oci_process process;
    char *root_path; /* root.path, may be NULL */
    bool root_readonly;
    struct oci_linux linux_sec;
    struct oci_mount *mounts;
    size_t n_mounts;
    struct kv *annotations;
    size_t n_annotations;
};

/* Parse config.json text; errors name the JSON path ("process.user.uid: expected integer"). */
_must_check_ int oci_spec_parse(const char *json, size_t len, struct oci_spec **out, rerr **err);
_must_check_ int oci_spec_load(const char *bundle_dir, struct oci_spec **out, rerr **err);
/* Parse a standalone process object (exec --process, the shim's Exec spec). */
_must_check_ int oci_process_parse(const char *json, size_t len, struct oci_process **out,
                                   rerr **err);
void oci_process_free(struct oci_process *p); /* frees members and p */
void oci_spec_free(struct oci_spec *spec);
static inline void oci_spec_freep(struct oci_spec **spec)
{
    oci_spec_free(*spec);
}
#define _cleanup_spec_ __attribute__((cleanup(oci_spec_freep)))
/* True for the CRI pause/sandbox container (io.kubernetes.cri.container-type=sandbox). */
bool oci_spec_is_sandbox(const struct oci_spec *spec);

#endif
