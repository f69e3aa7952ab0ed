/* containerd-shim-reaper-v2. STUB: the Task service arrives with the shim work. */
#include <stdio.h>

int main(int argc, char **argv)
{
    fprintf(stderr, "containerd-shim-reaper-v2: not implemented yet\n");
    return 1;
}
