/*
 * fetch_policy.h - what a worker may fetch.  A job names its manifest and
 * the folder of its zips; whoever can get a job to a worker could otherwise
 * make it read any file it can open (file:///etc/shadow) or any service it
 * can reach (a loopback admin port, the cloud metadata service).  These
 * rules are checked on the URL as the job gives it, on every redirect it
 * takes, and on the address each connection actually goes to, so a host
 * name that resolves to 127.0.0.1 is refused like 127.0.0.1 itself.
 *
 * Three rules, each a worker setting and named by the refusal it makes:
 *
 *   fetch-schemes        the schemes a URL may have, of https, http, s3 and
 *                        file (which also covers a plain path).  Default
 *                        https,http,s3: file only when named.
 *   fetch-hosts          comma-separated shell globs (fnmatch), one of which
 *                        the host must match, case-insensitively: the URL's
 *                        host for http(s); for s3:// the host of the endpoint
 *                        the request goes to (BUCKET.s3.REGION.amazonaws.com,
 *                        or --s3-endpoint's).  IPv6 literals without
 *                        brackets.  Default "*".
 *   fetch-allow-private  off by default: a host that is, or connects to, a
 *                        loopback address (127.0.0.0/8, ::1, "localhost" and
 *                        names under .localhost, and 0.0.0.0/8 and ::, which
 *                        reach this machine too) or a link-local one
 *                        (169.254.0.0/16 and fe80::/10, where the cloud
 *                        metadata service answers; also AWS's IPv6 metadata
 *                        address fd00:ec2::254) is refused.  IPv4-mapped
 *                        IPv6 addresses count as their IPv4 address.
 *
 * A file:// URL has no host: only fetch-schemes applies to it.  Through a
 * proxy (http_proxy, https_proxy) the address a connection goes to is the
 * proxy's: the host rules still apply to the URL, the address rule to the
 * proxy.
 *
 * Every check returns DR_OK or DR_ERR_FETCH_REFUSED with a detail that
 * names the rule and what broke it ("scheme file is not in fetch-schemes
 * (https,http,s3)"), never the URL: the caller names that.
 */
#ifndef DROVER_FETCH_POLICY_H
#define DROVER_FETCH_POLICY_H

#include <stddef.h>
#include <sys/socket.h>

#include "error.h"

/* The schemes, as bits of dr_fetch_policy.schemes. */
typedef enum dr_fetch_scheme {
    DR_FETCH_SCHEME_HTTPS = 1 << 0,
    DR_FETCH_SCHEME_HTTP = 1 << 1,
    DR_FETCH_SCHEME_S3 = 1 << 2,
    DR_FETCH_SCHEME_FILE = 1 << 3, /* file:// and plain paths */
} dr_fetch_scheme;

#define DR_FETCH_POLICY_DEFAULT_SCHEMES "https,http,s3"
#define DR_FETCH_POLICY_DEFAULT_HOSTS "*"

typedef struct dr_fetch_policy {
    unsigned schemes;   /* dr_fetch_scheme bits */
    char *schemes_text; /* the list as given, for messages; owned */
    char **host_globs;  /* owned */
    size_t host_glob_count;
    char *hosts_text; /* the list as given, for messages; owned */
    int allow_private;
} dr_fetch_policy;

/*
 * Parse the settings into policy (free it with dr_fetch_policy_free, also
 * after a failure).  schemes and hosts are comma-separated (spaces around
 * items ignored); NULL takes the default.  DR_ERR_USAGE names a scheme
 * that is not one of the four, or an empty list; DR_ERR_NOMEM.
 */
dr_status dr_fetch_policy_init(dr_fetch_policy *policy, const char *schemes, const char *hosts, int allow_private,
                               dr_error *err);
void dr_fetch_policy_free(dr_fetch_policy *policy);

/* The scheme of url as fetch.h reads it: a plain path is file; 0 for any scheme fetch does not take. */
unsigned dr_fetch_scheme_of(const char *url);

/* fetch-schemes: url's scheme (dr_fetch_scheme_of) is one the policy allows. */
dr_status dr_fetch_policy_check_scheme(const dr_fetch_policy *policy, const char *url, dr_error *err);

/*
 * fetch-hosts and fetch-allow-private for the host of an http(s) URL (a
 * request: for s3://, the endpoint URL it becomes): it matches a glob and,
 * unless private hosts are allowed, is neither a loopback or link-local
 * address literal nor a localhost name.  A URL without a host is refused.
 */
dr_status dr_fetch_policy_check_host(const dr_fetch_policy *policy, const char *url, dr_error *err);

/*
 * fetch-allow-private for an address a connection is about to go to ("it
 * connects to 127.0.0.1, which is loopback, ...").  Always DR_OK when
 * private hosts are allowed.
 */
dr_status dr_fetch_policy_check_address(const dr_fetch_policy *policy, const struct sockaddr *address, dr_error *err);

/*
 * What a host names, or an address is, when it is one fetch-allow-private
 * guards: "loopback" (0.0.0.0/8 and :: included), "link-local", "the cloud
 * metadata address"; NULL for any other.  A host is a name or an address
 * literal (IPv6 without brackets).
 */
const char *dr_fetch_host_private_kind(const char *host);
const char *dr_fetch_address_private_kind(const struct sockaddr *address);

#endif
