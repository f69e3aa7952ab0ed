/* Exit-latency probe: write CLOCK_REALTIME in ns to argv[1], then exit. The write is the
 * workload's last act, so (Wait response time - this stamp) is the exit-notification latency.
 * Built static by bench/run.py so it runs in any container rootfs. */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, (size_t)n) != n)
        return 1;
    _exit(0); /* no atexit work between the stamp and the exit */
}
