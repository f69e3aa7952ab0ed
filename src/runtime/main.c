/* reaper-runtime: OCI-style runtime CLI. STUB: verbs arrive with the runtime work. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("reaper-runtime version %s\n", REAPER_VERSION);
        return 0;
    }
    fprintf(stderr, "reaper-runtime: not implemented yet\n");
    return 1;
}
