/*
 * What a worker may fetch (fetch_policy.h): the settings as parsed, and each
 * rule on the URLs and addresses that break it and those that pass.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fetch_policy.h"

static dr_fetch_policy policy_of(const char *schemes, const char *hosts, int allow_private)
{
    dr_fetch_policy policy;
    dr_error err = {0};
    CHECK_INT(DR_OK, dr_fetch_policy_init(&policy, schemes, hosts, allow_private, &err));
    return policy;
}

/* The detail a URL is refused with by check (scheme or host), or "" when it passes. */
static const char *refusal(dr_status (*check)(const dr_fetch_policy *, const char *, dr_error *),
                           const dr_fetch_policy *policy, const char *url)
{
    static dr_error err;
    dr_error_clear(&err);
    dr_status status = check(policy, url, &err);
    CHECK(status == DR_OK || status == DR_ERR_FETCH_REFUSED);
    return status == DR_OK ? "" : err.detail;
}

static void settings_are_parsed_and_bad_ones_named(void)
{
    dr_fetch_policy policy = policy_of(NULL, NULL, 0);
    CHECK_INT(DR_FETCH_SCHEME_HTTPS | DR_FETCH_SCHEME_HTTP | DR_FETCH_SCHEME_S3, policy.schemes);
    CHECK_STR("https,http,s3", policy.schemes_text);
    CHECK_INT(1, policy.host_glob_count);
    CHECK_STR("*", policy.host_globs[0]);
    dr_fetch_policy_free(&policy);

    policy = policy_of(" HTTPS , file,", "a.example, *.b.example", 1);
    CHECK_INT(DR_FETCH_SCHEME_HTTPS | DR_FETCH_SCHEME_FILE, policy.schemes);
    CHECK_INT(2, policy.host_glob_count);
    CHECK_STR("*.b.example", policy.host_globs[1]);
    CHECK_INT(1, policy.allow_private);
    dr_fetch_policy_free(&policy);

    dr_error err = {0};
    CHECK_INT(DR_ERR_USAGE, dr_fetch_policy_init(&policy, "https,ftp", NULL, 0, &err));
    CHECK_STR("fetch-schemes: 'ftp' is not one of https, http, s3, file", err.detail);
    dr_fetch_policy_free(&policy);
    CHECK_INT(DR_ERR_USAGE, dr_fetch_policy_init(&policy, " , ", NULL, 0, &err));
    CHECK_CONTAINS("fetch-schemes: empty", err.detail);
    dr_fetch_policy_free(&policy);
    CHECK_INT(DR_ERR_USAGE, dr_fetch_policy_init(&policy, "https", "", 0, &err));
    CHECK_CONTAINS("fetch-hosts: empty", err.detail);
    dr_fetch_policy_free(&policy);
}

static void a_url_has_the_scheme_fetch_reads_it_with(void)
{
    CHECK_INT(DR_FETCH_SCHEME_HTTPS, dr_fetch_scheme_of("HTTPS://h/x"));
    CHECK_INT(DR_FETCH_SCHEME_HTTP, dr_fetch_scheme_of("http://h/x"));
    CHECK_INT(DR_FETCH_SCHEME_S3, dr_fetch_scheme_of("s3://bucket/key"));
    CHECK_INT(DR_FETCH_SCHEME_FILE, dr_fetch_scheme_of("file:///etc/passwd"));
    CHECK_INT(DR_FETCH_SCHEME_FILE, dr_fetch_scheme_of("/etc/passwd"));
    CHECK_INT(DR_FETCH_SCHEME_FILE, dr_fetch_scheme_of("repo/manifest.json"));
    CHECK_INT(DR_FETCH_SCHEME_FILE, dr_fetch_scheme_of("c:relative"));
    CHECK_INT(0, dr_fetch_scheme_of("ftp://h/x"));
    CHECK_INT(0, dr_fetch_scheme_of("gopher://h/x"));
}

static void fetch_schemes_lets_through_only_what_it_names(void)
{
    dr_fetch_policy policy = policy_of(NULL, NULL, 0);
    CHECK_STR("", refusal(dr_fetch_policy_check_scheme, &policy, "https://h/x"));
    CHECK_STR("", refusal(dr_fetch_policy_check_scheme, &policy, "s3://b/k"));
    CHECK_STR("scheme file is not in fetch-schemes (https,http,s3)",
              refusal(dr_fetch_policy_check_scheme, &policy, "file:///etc/shadow"));
    CHECK_STR("a local path is scheme file, which is not in fetch-schemes (https,http,s3)",
              refusal(dr_fetch_policy_check_scheme, &policy, "/etc/shadow"));
    CHECK_STR("scheme ftp is not in fetch-schemes (https,http,s3)",
              refusal(dr_fetch_policy_check_scheme, &policy, "ftp://h/x"));
    dr_fetch_policy_free(&policy);

    policy = policy_of("https,file", NULL, 0);
    CHECK_STR("", refusal(dr_fetch_policy_check_scheme, &policy, "file:///srv/repo/m.json"));
    CHECK_STR("", refusal(dr_fetch_policy_check_scheme, &policy, "repo/m.json"));
    CHECK_STR("scheme http is not in fetch-schemes (https,file)",
              refusal(dr_fetch_policy_check_scheme, &policy, "http://h/x"));
    CHECK_STR("scheme s3 is not in fetch-schemes (https,file)",
              refusal(dr_fetch_policy_check_scheme, &policy, "s3://b/k"));
    dr_fetch_policy_free(&policy);
}

static void fetch_hosts_globs_match_the_host_case_insensitively(void)
{
    dr_fetch_policy policy = policy_of(NULL, "packages.example, *.s3.eu-west-1.amazonaws.com,2001:db8::*", 0);
    CHECK_STR("", refusal(dr_fetch_policy_check_host, &policy, "https://packages.example/a/m.json"));
    CHECK_STR("", refusal(dr_fetch_policy_check_host, &policy, "https://PACKAGES.Example:8443/a"));
    CHECK_STR("", refusal(dr_fetch_policy_check_host, &policy, "https://bucket.s3.eu-west-1.amazonaws.com/k"));
    CHECK_STR("", refusal(dr_fetch_policy_check_host, &policy, "http://[2001:db8::7]:80/a"));
    CHECK_STR(
        "host evil.example matches nothing in fetch-hosts "
        "(packages.example, *.s3.eu-west-1.amazonaws.com,2001:db8::*)",
        refusal(dr_fetch_policy_check_host, &policy, "https://evil.example/a"));
    /* Not a suffix match: the glob is the whole host. */
    CHECK_CONTAINS("host packages.example.evil.test matches nothing",
                   refusal(dr_fetch_policy_check_host, &policy, "https://packages.example.evil.test/a"));
    CHECK_CONTAINS("host bucket.s3.us-east-1.amazonaws.com matches nothing",
                   refusal(dr_fetch_policy_check_host, &policy, "https://bucket.s3.us-east-1.amazonaws.com/k"));
    /* user@ and the port are not the host. */
    CHECK_CONTAINS("host evil.example matches nothing",
                   refusal(dr_fetch_policy_check_host, &policy, "https://packages.example@evil.example/a"));
    CHECK_STR("the URL names no host that fetch-hosts could match",
              refusal(dr_fetch_policy_check_host, &policy, "not a url"));
    dr_fetch_policy_free(&policy);
}

static void private_hosts_are_refused_by_name_and_by_literal(void)
{
    dr_fetch_policy policy = policy_of(NULL, NULL, 0);
    static const char *const refused[][2] = {
        {"http://localhost:8080/m.json", "host localhost is loopback"},
        {"http://LocalHost./m.json", "host localhost. is loopback"},
        {"http://api.localhost/m.json", "host api.localhost is loopback"},
        {"http://127.0.0.1/m.json", "host 127.0.0.1 is loopback"},
        {"http://127.1.2.3/m.json", "host 127.1.2.3 is loopback"},
        {"http://0.0.0.0/m.json", "host 0.0.0.0 is loopback"},
        {"http://[::1]/m.json", "host ::1 is loopback"},
        {"http://[::]/m.json", "host :: is loopback"},
        {"http://[::ffff:127.0.0.1]/m.json", "host ::ffff:127.0.0.1 is loopback"},
        {"http://169.254.169.254/latest/meta-data/", "host 169.254.169.254 is link-local"},
        {"http://[fe80::1]/m.json", "host fe80::1 is link-local"},
        {"http://[febf::1]/m.json", "host febf::1 is link-local"},
        {"http://[::ffff:169.254.169.254]/", "host ::ffff:169.254.169.254 is link-local"},
        {"http://[fd00:ec2::254]/latest/", "host fd00:ec2::254 is the cloud metadata address"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK_CONTAINS(refused[i][1], refusal(dr_fetch_policy_check_host, &policy, refused[i][0]));
    CHECK_CONTAINS("and fetch-allow-private is off",
                   refusal(dr_fetch_policy_check_host, &policy, "http://localhost/m.json"));
    static const char *const passed[] = {
        "https://packages.example/m.json", "http://10.0.0.5/m.json",    "http://192.168.1.2/m.json",
        "http://128.0.0.1/m.json",         "http://169.255.0.1/m.json", "http://[fec0::1]/m.json",
        "http://[fd00:ec2::253]/m.json",   "http://localhost.example/", "http://mylocalhost/m.json",
    };
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++)
        CHECK_STR("", refusal(dr_fetch_policy_check_host, &policy, passed[i]));
    dr_fetch_policy_free(&policy);

    policy = policy_of(NULL, NULL, 1);
    CHECK_STR("", refusal(dr_fetch_policy_check_host, &policy, "http://localhost:8080/m.json"));
    CHECK_STR("", refusal(dr_fetch_policy_check_host, &policy, "http://169.254.169.254/"));
    dr_fetch_policy_free(&policy);
}

static struct sockaddr_in ipv4(const char *text)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    CHECK_INT(1, inet_pton(AF_INET, text, &a.sin_addr));
    return a;
}

static struct sockaddr_in6 ipv6(const char *text)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    CHECK_INT(1, inet_pton(AF_INET6, text, &a.sin6_addr));
    return a;
}

static void connections_to_private_addresses_are_refused(void)
{
    dr_fetch_policy policy = policy_of(NULL, NULL, 0);
    dr_error err = {0};
    struct sockaddr_in v4 = ipv4("127.0.0.1");
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_policy_check_address(&policy, (struct sockaddr *)&v4, &err));
    CHECK_STR("it connects to 127.0.0.1, which is loopback, and fetch-allow-private is off", err.detail);
    v4 = ipv4("169.254.169.254");
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_policy_check_address(&policy, (struct sockaddr *)&v4, &err));
    CHECK_CONTAINS("169.254.169.254, which is link-local", err.detail);
    struct sockaddr_in6 v6 = ipv6("::1");
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_policy_check_address(&policy, (struct sockaddr *)&v6, &err));
    CHECK_CONTAINS("it connects to ::1, which is loopback", err.detail);
    v6 = ipv6("::ffff:127.0.0.2");
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_policy_check_address(&policy, (struct sockaddr *)&v6, &err));
    v6 = ipv6("fe80::abcd");
    CHECK_INT(DR_ERR_FETCH_REFUSED, dr_fetch_policy_check_address(&policy, (struct sockaddr *)&v6, &err));

    v4 = ipv4("192.0.2.1");
    CHECK_INT(DR_OK, dr_fetch_policy_check_address(&policy, (struct sockaddr *)&v4, &err));
    v6 = ipv6("2001:db8::1");
    CHECK_INT(DR_OK, dr_fetch_policy_check_address(&policy, (struct sockaddr *)&v6, &err));
    dr_fetch_policy_free(&policy);

    policy = policy_of(NULL, NULL, 1);
    v4 = ipv4("127.0.0.1");
    CHECK_INT(DR_OK, dr_fetch_policy_check_address(&policy, (struct sockaddr *)&v4, &err));
    dr_fetch_policy_free(&policy);
}

int main(void)
{
    settings_are_parsed_and_bad_ones_named();
    a_url_has_the_scheme_fetch_reads_it_with();
    fetch_schemes_lets_through_only_what_it_names();
    fetch_hosts_globs_match_the_host_case_insensitively();
    private_hosts_are_refused_by_name_and_by_literal();
    connections_to_private_addresses_are_refused();
    return check_done("fetch_policy");
}
