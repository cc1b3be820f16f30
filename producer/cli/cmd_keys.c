/*
 * drover-producer keys generate|id: the Ed25519 keys jobs are signed with
 * (common/bus/keys.h, common/bus/job_signing.h).
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "keys.h"

static const dr_setting generate_settings[] = {
    DR_COMMON_SETTINGS,
    {"dir", DR_SETTING_STRING, ".", "directory the key pair is written into (created if missing)"},
};

static const char generate_usage[] =
    "usage: drover-producer keys generate [--dir DIR]\n"
    "\n"
    "Makes a new Ed25519 key pair: DIR/ID.key, the private key (mode 0600), for the control plane's\n"
    "--signing-key, and DIR/ID.pub, the public key, for the workers' --trusted-keys.  ID is the key's\n"
    "id, the first 16 hex digits of the SHA-256 of the public key; jobs name it.  Prints \"key_id: ID\",\n"
    "\"private: PATH\" and \"public: PATH\".\n"
    "Rotation: generate a new pair, add its .pub to every worker's trusted keys, switch serve to the\n"
    "new .key, and once no job signed by the old key is left, remove the old .pub.";

static int keys_generate(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    char key_id[DR_KEY_ID_SIZE];
    dr_config *cfg =
        dr_program_start("drover-producer", generate_settings, sizeof generate_settings / sizeof generate_settings[0],
                         argc, argv, generate_usage, &exit_code);
    if (!cfg)
        return exit_code;
    const char *dir = dr_config_string(cfg, "dir");
    if (dr_key_generate(dir, key_id, &err) != DR_OK)
        goto fail;
    printf("key_id: %s\nprivate: %s/%s.key\npublic: %s/%s.pub\n", key_id, dir, key_id, dir, key_id);
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_config_free(cfg);
    return exit_code;
}

static const dr_setting id_settings[] = {
    DR_COMMON_SETTINGS,
};

static const char id_usage[] =
    "usage: drover-producer keys id FILE...\n"
    "\n"
    "Prints \"ID FILE\" for each key file (private or public PEM): the id jobs signed with it carry.";

static int keys_id(int argc, char **argv)
{
    int exit_code = DR_EXIT_OK;
    dr_error err = {0};
    char *const *positional;
    dr_config *cfg = dr_program_start_args("drover-producer", id_settings, sizeof id_settings / sizeof id_settings[0],
                                           DR_PROGRAM_ANY_ARGUMENTS, argc, argv, id_usage, &exit_code);
    if (!cfg)
        return exit_code;
    size_t n = dr_config_positional(cfg, &positional);
    if (n == 0) {
        dr_error_set(&err, DR_ERR_USAGE, "keys id needs at least one key file (see --help)");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        dr_key *key = NULL;
        if (dr_key_load_public(positional[i], &key, &err) != DR_OK)
            goto fail;
        printf("%s %s\n", dr_key_id(key), positional[i]);
        dr_key_free(key);
    }
    goto cleanup;
fail:
    exit_code = dr_producer_fail(&err);
cleanup:
    dr_config_free(cfg);
    return exit_code;
}

/* ---- dispatch ---- */

static const dr_producer_verb keys_verbs[] = {
    {"generate", keys_generate, "make a new Ed25519 key pair for signing jobs"},
    {"id", keys_id, "print the key id of key files"},
};

const dr_producer_command dr_command_keys = {"keys", keys_verbs, sizeof keys_verbs / sizeof keys_verbs[0], NULL, NULL};
