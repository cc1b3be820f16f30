/*
 * fetch_policy.c - the rules of what a worker may fetch.  See fetch_policy.h.
 */
#include "fetch_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"

#define HOST_MAX 256

static const struct {
    const char *name;
    dr_fetch_scheme bit;
} scheme_names[] = {
    {"https", DR_FETCH_SCHEME_HTTPS},
    {"http", DR_FETCH_SCHEME_HTTP},
    {"s3", DR_FETCH_SCHEME_S3},
    {"file", DR_FETCH_SCHEME_FILE},
};
#define SCHEME_COUNT (sizeof scheme_names / sizeof scheme_names[0])

void dr_fetch_policy_free(dr_fetch_policy *policy)
{
    for (size_t i = 0; i < policy->host_glob_count; i++)
        free(policy->host_globs[i]);
    free(policy->host_globs);
    free(policy->schemes_text);
    free(policy->hosts_text);
    memset(policy, 0, sizeof *policy);
}

/*
 * Split a comma-separated list into trimmed, non-empty items (malloc'd
 * array of malloc'd strings).  -1 when out of memory.
 */
static int split_list(const char *text, char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    char *copy = strdup(text), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = dr_trim(item);
        if (!*item)
            continue;
        char **grown = realloc(*out, (*count + 1) * sizeof *grown);
        char *dup = strdup(item);
        if (!grown || !dup) {
            free(dup);
            if (grown)
                *out = grown;
            rc = -1;
            break;
        }
        *out = grown;
        (*out)[(*count)++] = dup;
    }
    free(copy);
    return rc;
}

static void free_list(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

dr_status dr_fetch_policy_init(dr_fetch_policy *policy, const char *schemes, const char *hosts, int allow_private,
                               dr_error *err)
{
    memset(policy, 0, sizeof *policy);
    policy->allow_private = allow_private;
    schemes = schemes ? schemes : DR_FETCH_POLICY_DEFAULT_SCHEMES;
    hosts = hosts ? hosts : DR_FETCH_POLICY_DEFAULT_HOSTS;
    char **names = NULL;
    size_t name_count = 0;
    dr_status status = DR_OK;
    policy->schemes_text = strdup(schemes);
    policy->hosts_text = strdup(hosts);
    if (!policy->schemes_text || !policy->hosts_text || split_list(schemes, &names, &name_count) != 0 ||
        split_list(hosts, &policy->host_globs, &policy->host_glob_count) != 0) {
        status = dr_error_set(err, DR_ERR_NOMEM, "fetch policy: out of memory");
        goto done;
    }
    for (size_t i = 0; i < name_count; i++) {
        size_t s = 0;
        while (s < SCHEME_COUNT && strcasecmp(names[i], scheme_names[s].name) != 0)
            s++;
        if (s == SCHEME_COUNT) {
            status =
                dr_error_set(err, DR_ERR_USAGE, "fetch-schemes: '%.40s' is not one of https, http, s3, file", names[i]);
            goto done;
        }
        policy->schemes |= scheme_names[s].bit;
    }
    if (!policy->schemes)
        status = dr_error_set(err, DR_ERR_USAGE, "fetch-schemes: empty; name at least one of https, http, s3, file");
    else if (policy->host_glob_count == 0)
        status = dr_error_set(err, DR_ERR_USAGE, "fetch-hosts: empty; '*' allows every host");
done:
    free_list(names, name_count);
    return status;
}

unsigned dr_fetch_scheme_of(const char *url)
{
    const char *p = url;
    if (!isalpha((unsigned char)*p))
        return DR_FETCH_SCHEME_FILE;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return DR_FETCH_SCHEME_FILE; /* a plain path, as fetch reads it */
    for (size_t s = 0; s < SCHEME_COUNT; s++)
        if (strlen(scheme_names[s].name) == (size_t)(p - url) && strncasecmp(url, scheme_names[s].name, p - url) == 0)
            return scheme_names[s].bit;
    return 0;
}

dr_status dr_fetch_policy_check_scheme(const dr_fetch_policy *policy, const char *url, dr_error *err)
{
    unsigned scheme = dr_fetch_scheme_of(url);
    if (scheme & policy->schemes)
        return DR_OK;
    if (scheme == DR_FETCH_SCHEME_FILE && !strstr(url, "://"))
        return dr_error_set(err, DR_ERR_FETCH_REFUSED,
                            "a local path is scheme file, which is not in fetch-schemes (%.200s)",
                            policy->schemes_text);
    const char *end = strstr(url, "://");
    return dr_error_set(err, DR_ERR_FETCH_REFUSED, "scheme %.*s is not in fetch-schemes (%.200s)",
                        (int)(end && end - url < 16 ? end - url : 16), url, policy->schemes_text);
}

/* Which reserved range an IPv4 address (network order) is in, or NULL. */
static const char *ipv4_private_kind(const struct in_addr *address)
{
    uint32_t a = ntohl(address->s_addr);
    if ((a >> 24) == 127)
        return "loopback";
    if ((a >> 24) == 0) /* 0.0.0.0/8: connecting to it reaches this machine */
        return "loopback";
    if ((a >> 16) == 0xa9fe) /* 169.254.0.0/16 */
        return "link-local";
    return NULL;
}

static const char *ipv6_private_kind(const struct in6_addr *address)
{
    static const struct in6_addr aws_metadata = {
        .s6_addr = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}};
    if (IN6_IS_ADDR_V4MAPPED(address)) {
        struct in_addr v4;
        memcpy(&v4.s_addr, address->s6_addr + 12, 4);
        return ipv4_private_kind(&v4);
    }
    if (IN6_IS_ADDR_LOOPBACK(address))
        return "loopback";
    if (IN6_IS_ADDR_UNSPECIFIED(address))
        return "loopback";
    if (IN6_IS_ADDR_LINKLOCAL(address))
        return "link-local";
    if (memcmp(address, &aws_metadata, sizeof aws_metadata) == 0)
        return "the cloud metadata address";
    return NULL;
}

const char *dr_fetch_address_private_kind(const struct sockaddr *address)
{
    if (address->sa_family == AF_INET)
        return ipv4_private_kind(&((const struct sockaddr_in *)(const void *)address)->sin_addr);
    if (address->sa_family == AF_INET6)
        return ipv6_private_kind(&((const struct sockaddr_in6 *)(const void *)address)->sin6_addr);
    return NULL;
}

const char *dr_fetch_host_private_kind(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    char name[HOST_MAX];
    snprintf(name, sizeof name, "%s", host);
    char *zone = strchr(name, '%'); /* fe80::1%eth0 */
    if (zone)
        *zone = '\0';
    if (inet_pton(AF_INET, name, &v4) == 1)
        return ipv4_private_kind(&v4);
    if (inet_pton(AF_INET6, name, &v6) == 1)
        return ipv6_private_kind(&v6);
    /* "localhost", "LocalHost.", and every name under it (RFC 6761): the resolver may answer loopback. */
    size_t len = strlen(name);
    while (len > 0 && name[len - 1] == '.')
        name[--len] = '\0';
    if (strcasecmp(name, "localhost") == 0 || (len > 10 && strcasecmp(name + len - 10, ".localhost") == 0))
        return "loopback";
    return NULL;
}

/* The host of an absolute URL, lower-case and without IPv6 brackets; -1 when it has none. */
static int url_host(const char *url, char *host, size_t size)
{
    CURLU *parsed = curl_url();
    char *part = NULL;
    int rc = -1;
    if (parsed && curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(parsed, CURLUPART_HOST, &part, 0) == CURLUE_OK && part[0]) {
        size_t len = strlen(part);
        const char *start = part;
        if (part[0] == '[' && part[len - 1] == ']') {
            start++;
            len -= 2;
        }
        if (len < size) {
            for (size_t i = 0; i < len; i++)
                host[i] = (char)tolower((unsigned char)start[i]);
            host[len] = '\0';
            rc = 0;
        }
    }
    curl_free(part);
    curl_url_cleanup(parsed);
    return rc;
}

dr_status dr_fetch_policy_check_host(const dr_fetch_policy *policy, const char *url, dr_error *err)
{
    char host[HOST_MAX];
    if (url_host(url, host, sizeof host) != 0)
        return dr_error_set(err, DR_ERR_FETCH_REFUSED, "the URL names no host that fetch-hosts could match");
    size_t i = 0;
    while (i < policy->host_glob_count && fnmatch(policy->host_globs[i], host, FNM_CASEFOLD) != 0)
        i++;
    if (i == policy->host_glob_count)
        return dr_error_set(err, DR_ERR_FETCH_REFUSED, "host %s matches nothing in fetch-hosts (%.200s)", host,
                            policy->hosts_text);
    const char *kind = policy->allow_private ? NULL : dr_fetch_host_private_kind(host);
    if (kind)
        return dr_error_set(err, DR_ERR_FETCH_REFUSED, "host %s is %s, and fetch-allow-private is off", host, kind);
    return DR_OK;
}

dr_status dr_fetch_policy_check_address(const dr_fetch_policy *policy, const struct sockaddr *address, dr_error *err)
{
    const char *kind = policy->allow_private ? NULL : dr_fetch_address_private_kind(address);
    if (!kind)
        return DR_OK;
    char text[INET6_ADDRSTRLEN] = "?";
    if (address->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)address)->sin_addr, text, sizeof text);
    else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)address)->sin6_addr, text, sizeof text);
    return dr_error_set(err, DR_ERR_FETCH_REFUSED, "it connects to %s, which is %s, and fetch-allow-private is off",
                        text, kind);
}
