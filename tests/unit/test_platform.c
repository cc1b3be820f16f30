/* Which platform a target is: os-release IDs to Distributor codes, families, arches. */
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "check.h"
#include "platform.h"

static void os_release_ids_become_distributor_codes(void)
{
    char buf[64];
    CHECK_STR("redhat", dr_platform_normalize_name("rhel", buf, sizeof buf));
    CHECK_STR("amazon", dr_platform_normalize_name("amzn", buf, sizeof buf));
    CHECK_STR("oracle", dr_platform_normalize_name("ol", buf, sizeof buf));
    CHECK_STR("suse", dr_platform_normalize_name("sles", buf, sizeof buf));
    CHECK_STR("opensuseleap", dr_platform_normalize_name("opensuse-leap", buf, sizeof buf));
    CHECK_STR("redhat", dr_platform_normalize_name("RHEL", buf, sizeof buf));
    CHECK_STR("ubuntu", dr_platform_normalize_name("ubuntu", buf, sizeof buf));
    CHECK_STR("debian", dr_platform_normalize_name("debian", buf, sizeof buf));
    CHECK_STR("centos", dr_platform_normalize_name("centos", buf, sizeof buf));
    CHECK_STR("windows", dr_platform_normalize_name("windows", buf, sizeof buf));
    CHECK_STR("rocky", dr_platform_normalize_name("Rocky", buf, sizeof buf));
    char small[4];
    CHECK_STR("ubu", dr_platform_normalize_name("ubuntu", small, sizeof small));
}

static void arches_are_normalized(void)
{
    static const char *const cases[][2] = {
        {"amd64", "x86_64"}, {"x86_64", "x86_64"}, {"aarch64", "arm64"}, {"arm64", "arm64"},
        {"i386", "386"},     {"i686", "386"},      {"386", "386"},       {"AMD64", "x86_64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dr_platform p;
        CHECK_INT(DR_OK, dr_platform_init(&p, "ubuntu", "22.04", cases[i][0], NULL, NULL));
        CHECK_STR(cases[i][1], p.arch);
    }
}

static void init_normalizes_the_name_and_keeps_the_version(void)
{
    dr_platform p;
    CHECK_INT(DR_OK, dr_platform_init(&p, "rhel", "8.6", "x86_64", NULL, NULL));
    CHECK_STR("redhat", p.name);
    CHECK_STR("8.6", p.version);
    CHECK_INT(0, p.family_count);
}

static void builtin_families(void)
{
    dr_platform p;
    dr_platform_init(&p, "rocky", "8.9", "x86_64", NULL, NULL);
    CHECK_INT(1, p.family_count);
    CHECK_STR("redhat", p.family[0]);

    dr_platform_init(&p, "linuxmint", "21", "x86_64", NULL, NULL);
    CHECK_INT(2, p.family_count);
    CHECK_STR("ubuntu", p.family[0]);
    CHECK_STR("debian", p.family[1]);

    dr_platform_init(&p, "ubuntu", "22.04", "x86_64", NULL, NULL);
    CHECK_INT(1, p.family_count);
    CHECK_STR("debian", p.family[0]);

    dr_platform_init(&p, "opensuse-leap", "15.5", "x86_64", NULL, NULL);
    CHECK_STR("opensuseleap", p.name);
    CHECK_INT(2, p.family_count);
    CHECK_STR("opensuse", p.family[0]);
    CHECK_STR("suse", p.family[1]);

    dr_platform_init(&p, "ol", "9", "x86_64", NULL, NULL);
    CHECK_STR("oracle", p.name);
    CHECK_INT(1, p.family_count);
    CHECK_STR("redhat", p.family[0]);
}

static void id_like_comes_first_normalized_without_duplicates_or_self(void)
{
    dr_platform p;
    CHECK_INT(DR_OK, dr_platform_init(&p, "rocky", "9.3", "x86_64", "  rhel centos\tfedora rocky rhel ", NULL));
    CHECK_INT(3, p.family_count);
    CHECK_STR("redhat", p.family[0]);
    CHECK_STR("centos", p.family[1]);
    CHECK_STR("fedora", p.family[2]);

    /* Unknown distro: ID_LIKE alone. */
    dr_platform_init(&p, "kali", "2024.1", "amd64", "debian", NULL);
    CHECK_INT(1, p.family_count);
    CHECK_STR("debian", p.family[0]);
}

static void amazon_keeps_exact_or_any_even_with_id_like(void)
{
    dr_platform p;
    dr_platform_init(&p, "amzn", "2", "aarch64", "centos rhel fedora", NULL);
    CHECK_STR("amazon", p.name);
    CHECK_STR("arm64", p.arch);
    CHECK_INT(0, p.family_count);
}

static void family_is_capped(void)
{
    dr_platform p;
    dr_platform_init(&p, "x", "1", "x86_64", "a b c d e f g h i j", NULL);
    CHECK_INT(DR_PLATFORM_FAMILY_MAX, p.family_count);
    CHECK_STR("h", p.family[DR_PLATFORM_FAMILY_MAX - 1]);
}

static void bad_input_is_refused(void)
{
    dr_platform p;
    dr_error err = {0};
    CHECK_INT(DR_ERR_USAGE, dr_platform_init(&p, "", "1", "x86_64", NULL, &err));
    CHECK_CONTAINS("platform name is empty", err.detail);
    CHECK_INT(DR_ERR_USAGE, dr_platform_init(&p, "ubuntu", "1", NULL, NULL, &err));
    CHECK_CONTAINS("platform arch is empty", err.detail);
    char long_name[80];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_INT(DR_ERR_USAGE, dr_platform_init(&p, long_name, "1", "x86_64", NULL, &err));
    CHECK_CONTAINS("longer than 63 characters", err.detail);
    /* A missing version is allowed: such a host matches only _any and * versions. */
    CHECK_INT(DR_OK, dr_platform_init(&p, "arch", NULL, "x86_64", NULL, &err));
    CHECK_STR("", p.version);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static void detect_reads_os_release_and_uname(void)
{
    char dir[] = "/tmp/drover-platform-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/os-release", dir);
    write_file(path,
               "# Rocky Linux\n"
               "NAME=\"Rocky Linux\"\n"
               "VERSION=\"9.3 (Blue Onyx)\"\n"
               "ID=\"rocky\"\n"
               "ID_LIKE='rhel centos fedora'\n"
               "VERSION_ID=9.3\n"
               "PRETTY_NAME=\"Rocky \\\"Linux\\\" 9.3\"\n"
               "\n");
    dr_platform p;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_platform_detect(&p, path, &err));
    CHECK_STR("rocky", p.name);
    CHECK_STR("9.3", p.version);
    CHECK_INT(3, p.family_count);
    CHECK_STR("redhat", p.family[0]);
    CHECK_STR("centos", p.family[1]);
    CHECK_STR("fedora", p.family[2]);
    struct utsname host;
    uname(&host);
    dr_platform expected;
    dr_platform_init(&expected, "x", "1", host.machine, NULL, NULL);
    CHECK_STR(expected.arch, p.arch);

    write_file(path, "ID=amzn\nVERSION_ID=\"2023\"\nID_LIKE=\"fedora\"\n");
    CHECK_INT(DR_OK, dr_platform_detect(&p, path, &err));
    CHECK_STR("amazon", p.name);
    CHECK_STR("2023", p.version);
    CHECK_INT(0, p.family_count);

    /* No ID: os-release says the default is "linux". */
    write_file(path, "NAME=Something\n");
    CHECK_INT(DR_OK, dr_platform_detect(&p, path, &err));
    CHECK_STR("linux", p.name);
    CHECK_STR("", p.version);

    unlink(path);
    CHECK_INT(DR_ERR_IO, dr_platform_detect(&p, path, &err));
    CHECK_CONTAINS(path, err.detail);
    rmdir(dir);
}

int main(void)
{
    os_release_ids_become_distributor_codes();
    arches_are_normalized();
    init_normalizes_the_name_and_keeps_the_version();
    builtin_families();
    id_like_comes_first_normalized_without_duplicates_or_self();
    amazon_keeps_exact_or_any_even_with_id_like();
    family_is_capped();
    bad_input_is_refused();
    detect_reads_os_release_and_uname();
    return check_done("platform");
}
