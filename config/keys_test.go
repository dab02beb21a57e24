package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// exampleKeys lists every key example.yaml sets, in the reference's form:
// list items as [] (users[].extension), keys of data maps as <key>
// (policy.users.<key>.crm_active). A map of plain values (headers,
// templates) is one key; the sections that only hold keys are not listed.
func exampleKeys(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	leafKeys(root.Content[0], reflect.TypeFor[Config](), "", seen)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func leafKeys(n *yaml.Node, t reflect.Type, path string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[Secret]() && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				out[join(path, k.Value)+"?"] = true
				continue
			}
			leafKeys(v, f.Type, join(path, k.Value), out)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.String && n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			leafKeys(e, t.Elem(), path+"[]", out)
		}
	case t.Kind() == reflect.Map && isStruct(t.Elem()) && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			leafKeys(n.Content[i+1], t.Elem(), path+".<key>", out)
		}
	default:
		out[path] = true
	}
}

func isStruct(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t != reflect.TypeFor[Secret]()
}

// effects names, for every key of example.yaml, the tests that show it
// doing what docs/config.md says: "dir.TestName", dir relative to the
// module. A key added to the example without a test here fails
// TestEveryKeyHasAnEffect; so does a test named here that does not exist.
var effects = map[string][]string{
	"log_level":         {"config.TestLevel"},
	"state_dir":         {"internal/app.TestKeyStateDir"},
	"pbx_id":            {"internal/app.TestKeyPBXID"},
	"extension_pattern": {"internal/app.TestKeysPatternAndTrunks"},
	"trunks":            {"internal/app.TestKeysPatternAndTrunks"},
	"default_region":    {"cmd/callbridge.TestReplayConfigApplies"},
	"sink.file":         {"internal/app.TestRunWritesActivities"},

	"http.listen":                   {"internal/app.TestRunWritesActivities"},
	"http.admin_token_file":         {"internal/app.TestHTTPListener", "config.TestTokensLoad"},
	"http.admin_token_credential":   {"config.TestTokensLoad"},
	"http.public":                   {"internal/app.TestHTTPListener"},
	"http.tls.cert_file":            {"internal/app.TestHTTPListener"},
	"http.tls.key_file":             {"internal/app.TestHTTPListener"},
	"http.limits.max_body_bytes":    {"internal/api.TestBodyLimit"},
	"http.limits.max_header_bytes":  {"internal/app.TestHTTPListener"},
	"http.limits.streams_per_agent": {"internal/api.TestStreamLimits"},
	"http.limits.streams_total":     {"internal/api.TestStreamLimits"},
	"users[].token_file":            {"internal/app.TestHTTPListener"},
	"users[].token_credential":      {"config.TestTokensLoad"},

	"ari.url":           {"internal/app.TestRunWritesActivities"},
	"ari.application":   {"ari.TestConfig", "ari.TestApplicationReplaced"},
	"ari.username":      {"internal/app.TestRunWritesActivities", "ari.TestBadPassword"},
	"ari.password":      {"internal/app.TestRunWithDynamics", "ari.TestBadPassword"},
	"ari.password_file": {"internal/app.TestRunWritesActivities", "config.TestSecretFiles"},
	"ari.enabled":       {"config.TestValidateForRun"},

	"ami.host":        {"internal/app.TestKeysAMI"},
	"ami.port":        {"internal/app.TestKeysAMI"},
	"ami.username":    {"internal/app.TestKeysAMI", "ari/ami.TestClientLoginFailure"},
	"ami.secret":      {"ari/ami.TestClientLoginFailure"},
	"ami.secret_file": {"internal/app.TestKeysAMI", "config.TestSecretFileKeys"},
	"ami.tls":         {"internal/app.TestKeyAMITLS"},

	"sip.hep_listen_udp":            {"sip/hep.TestCollectorMatchesReplay", "sip/hep.TestEveryListener"},
	"sip.hep_listen_tcp":            {"sip/hep.TestEveryListener"},
	"sip.hep_allowed_sources":       {"sip/hep.TestAllowedSourcesOffLoopback"},
	"sip.hep_auth_key":              {"sip/hep.TestCollectorSurvivesGarbage"},
	"sip.hep_auth_key_file":         {"config.TestSecretFileKeys"},
	"sip.conferences":               {"cmd/callbridge.TestReplayPcapConferences", "sip/dialog.TestConferenceRoom"},
	"sip.subscribe.allowed_sources": {"sip/subscribe.TestAllowedSourcesOffLoopback"},
	"privacy.prefixes[].prefix":     {"config.TestPrivacyRulesApply"},
	"privacy.prefixes[].class":      {"config.TestPrivacyRulesApply"},
	"privacy.numbers[].number":      {"config.TestPrivacyRulesApply"},
	"privacy.numbers[].class":       {"config.TestPrivacyRulesApply"},
	"sip.pbx_addresses":             {"sip/dialog.TestSequences"},
	"sip.trunk_addresses":           {"sip/dialog.TestSequences"},
	"sip.subscribe.pbx":             {"sip/subscribe.TestSubscriberAgainstSipp"},
	"sip.subscribe.listen":          {"sip/subscribe.TestSubscriberAgainstSipp"},
	"sip.subscribe.contact":         {"sip/subscribe.TestKeyContact"},
	"sip.subscribe.extensions":      {"sip/subscribe.TestSubscriberAgainstSipp"},
	"sip.subscribe.expiry":          {"sip/subscribe.TestSubscriberAgainstSipp"},
	"sip.subscribe.username":        {"sip/subscribe.TestSubscriberAuthAndTermination"},
	"sip.subscribe.password":        {"sip/subscribe.TestSubscriberAuthAndTermination"},
	"sip.subscribe.password_file":   {"config.TestSecretFileKeys"},

	"users[].extension":   {"bridge.TestDirectory"},
	"users[].name":        {"cmd/callbridge.TestReplayConfigApplies"},
	"users[].email":       {"internal/app.TestKeysAssignmentReachTheCRM", "internal/app.TestRunWithDynamics"},
	"users[].mobile":      {"bridge.TestMobileForward"},
	"users[].endpoints":   {"bridge.TestDirectory"},
	"users[].crm_user_id": {"internal/app.TestKeysAssignmentReachTheCRM"},

	"store.type":           {"internal/app.TestKeysRedisStore"},
	"store.redis_url":      {"crmsync/store/redis.TestConformance"},
	"store.redis_url_file": {"internal/app.TestKeysRedisStore"},
	"store.redis_prefix":   {"internal/app.TestKeysRedisStore"},
	"store.wait_replicas":  {"internal/app.TestStoreWaitReplicas", "crmsync/store/redis.TestReplicationLoss", "crmsync/store/redis.TestWaitDelayedJob"},
	"store.wait_timeout":   {"internal/app.TestStoreWaitReplicas"},

	"cel.type":                {"internal/app.TestRunFillsGapsFromCEL", "ari/cel.TestPostgres", "ari/cel.TestMariaDB"},
	"cel.file":                {"internal/app.TestRunFillsGapsFromCEL"},
	"cel.fields":              {"ari/cel.TestFieldsKey"},
	"cel.dsn":                 {"ari/cel.TestPostgres", "ari/cel.TestMariaDB"},
	"cel.password":            {"ari/cel.TestPostgres", "ari/cel.TestMariaDB"},
	"cel.password_file":       {"config.TestCELPasswordFile", "cmd/callbridge.TestSecretsNeverShow"},
	"cel.password_credential": {"config.TestCELPasswordFile"},
	"cel.table":               {"ari/cel.TestPostgres"},
	"cel.time_zone":           {"ari/cel.TestPostgres"},
	"cel.margin":              {"ari/cel.TestMarginKey"},

	"policy.duration_limit":                         {"cmd/callbridge.TestReplayAppliesPolicy"},
	"policy.start_margin":                           {"internal/app.TestStartMarginKeepsConcurrentCalls", "crmsync.TestDecideStartMargin"},
	"policy.sync_internal":                          {"cmd/callbridge.TestReplayAppliesPolicy"},
	"policy.sync_answered_elsewhere":                {"crmsync.TestDecide"},
	"policy.default_assignee":                       {"internal/app.TestKeysAssignmentReachTheCRM", "crmsync/dynamics.TestOwnerOrder"},
	"policy.defaults.crm_active":                    {"crmsync.TestDecide"},
	"policy.defaults.email":                         {"internal/app.TestKeysAssignmentReachTheCRM", "crmsync.TestEmailOf"},
	"policy.defaults.templates.incoming":            {"internal/app.TestKeysAssignmentReachTheCRM"},
	"policy.defaults.templates.outgoing":            {"internal/app.TestKeysAssignmentReachTheCRM"},
	"policy.defaults.templates.missed_incoming":     {"internal/app.TestKeysAssignmentReachTheCRM"},
	"policy.defaults.templates.unaccepted_outgoing": {"internal/app.TestKeysAssignmentReachTheCRM"},
	"policy.users.<key>.crm_active":                 {"crmsync.TestDecide"},

	"delivery.concurrency":   {"crmsync.TestDeliveryKeyConcurrency"},
	"delivery.lease":         {"crmsync.TestDeliveryKeyLeaseAndPollInterval"},
	"delivery.push_timeout":  {"crmsync.TestDeliveryKeyPushTimeout"},
	"delivery.backoff_min":   {"crmsync.TestDeliveryKeyBackoffAndMaxAttempts"},
	"delivery.backoff_max":   {"crmsync.TestDeliveryKeyBackoffAndMaxAttempts"},
	"delivery.max_attempts":  {"crmsync.TestDeliveryKeyBackoffAndMaxAttempts"},
	"delivery.drain_timeout": {"crmsync.TestDeliveryKeyDrainTimeout"},
	"delivery.poll_interval": {"crmsync.TestDeliveryKeyLeaseAndPollInterval"},

	"crm[].name": {"internal/app.TestDeletedIntegrationStaysDeletedAcrossRestart"},
	"crm[].type": {"crmsync/connectors.TestBuild"},

	"crm[].webhook.url":                      {"crmsync/webhook.TestSignedBodyIsTheActivity"},
	"crm[].webhook.secret":                   {"crmsync/webhook.TestSignedBodyIsTheActivity"},
	"crm[].webhook.secret_file":              {"crmsync/webhook.TestSecretSources"},
	"crm[].webhook.secret_credential":        {"crmsync/webhook.TestSecretSources"},
	"crm[].webhook.timeout":                  {"crmsync/webhook.TestKeyTimeout"},
	"crm[].webhook.headers":                  {"crmsync/webhook.TestKeyHeaders"},
	"crm[].webhook.tls.ca_file":              {"crmsync/webhook.TestKeyTLSServer"},
	"crm[].webhook.tls.cert_file":            {"crmsync/webhook.TestKeyTLSClientCertificate"},
	"crm[].webhook.tls.key_file":             {"crmsync/webhook.TestKeyTLSClientCertificate"},
	"crm[].webhook.tls.server_name":          {"crmsync/webhook.TestKeyTLSServer"},
	"crm[].webhook.tls.insecure_skip_verify": {"crmsync/webhook.TestKeyTLSServer"},
	"crm[].webhook.recognition_from":         {"internal/app.TestWebhookBorrowsRecognition", "crmsync/connectors.TestKeyRecognitionFrom", "crmsync/webhook.TestBodies", "crmsync/connectors.TestCheckReferences"},

	"crm[].dynamics.url":                          {"crmsync/dynamics.TestConformance"},
	"crm[].dynamics.tenant_id":                    {"crmsync/dynamics.TestKeyTenantClientAndScope"},
	"crm[].dynamics.client_id":                    {"crmsync/dynamics.TestKeyTenantClientAndScope"},
	"crm[].dynamics.client_secret":                {"crmsync/dynamics.TestConformance"},
	"crm[].dynamics.client_secret_file":           {"crmsync/dynamics.TestWrongSecretIsUnauthorizedAndQuiet"},
	"crm[].dynamics.client_secret_credential":     {"crmsync/dynamics.TestKeyClientSecretCredential"},
	"crm[].dynamics.token_url":                    {"crmsync/dynamics.TestConformance"},
	"crm[].dynamics.scope":                        {"crmsync/dynamics.TestKeyTenantClientAndScope"},
	"crm[].dynamics.default_owner":                {"crmsync/dynamics.TestOwnerOrder", "crmsync/dynamics.TestDefaultOwnerChecked"},
	"crm[].dynamics.users.<key>.crm_user":         {"crmsync/dynamics.TestPayloadMapping", "crmsync/dynamics.TestSyncUsers"},
	"crm[].dynamics.subjects.incoming":            {"crmsync/dynamics.TestKeySubjectsAndCompletion"},
	"crm[].dynamics.subjects.outgoing":            {"crmsync/dynamics.TestKeySubjectsAndCompletion"},
	"crm[].dynamics.subjects.missed_incoming":     {"crmsync/dynamics.TestKeySubjectsAndCompletion"},
	"crm[].dynamics.subjects.unaccepted_outgoing": {"crmsync/dynamics.TestKeySubjectsAndCompletion"},
	"crm[].dynamics.templates":                    {"crmsync/dynamics.TestSubjectTemplates"},
	"crm[].dynamics.missed":                       {"crmsync/dynamics.TestKeySubjectsAndCompletion"},
	"crm[].dynamics.unaccepted":                   {"crmsync/dynamics.TestKeySubjectsAndCompletion", "crmsync/dynamics.TestPayloadMapping"},
	"crm[].dynamics.start_margin":                 {"crmsync/dynamics.TestStartMargin"},
	"crm[].dynamics.max_concurrency":              {"crmsync/dynamics.TestKeyMaxConcurrencyAndBatchSize"},
	"crm[].dynamics.batch_size":                   {"crmsync/dynamics.TestKeyMaxConcurrencyAndBatchSize"},
	"crm[].dynamics.timeout":                      {"crmsync/dynamics.TestKeyTimeout"},

	"crm[].salesforce.url":                          {"crmsync/salesforce.TestConformance"},
	"crm[].salesforce.api_version":                  {"crmsync/salesforce.TestKeyAPIVersion"},
	"crm[].salesforce.auth":                         {"crmsync/salesforce.TestJWTBearer", "crmsync/salesforce.TestKeyJWTBearerKeys"},
	"crm[].salesforce.client_id":                    {"crmsync/salesforce.TestKeyClientIDAndSecretCredential"},
	"crm[].salesforce.client_secret":                {"crmsync/salesforce.TestWrongSecretIsUnauthorized"},
	"crm[].salesforce.client_secret_file":           {"crmsync/salesforce.TestWrongSecretIsUnauthorized"},
	"crm[].salesforce.client_secret_credential":     {"crmsync/salesforce.TestKeyClientIDAndSecretCredential"},
	"crm[].salesforce.username":                     {"crmsync/salesforce.TestKeyJWTBearerKeys"},
	"crm[].salesforce.private_key":                  {"crmsync/salesforce.TestJWTBearer"},
	"crm[].salesforce.private_key_file":             {"crmsync/salesforce.TestKeyJWTBearerKeys"},
	"crm[].salesforce.private_key_credential":       {"crmsync/salesforce.TestKeyJWTBearerKeys"},
	"crm[].salesforce.audience":                     {"crmsync/salesforce.TestKeyJWTBearerKeys"},
	"crm[].salesforce.token_url":                    {"crmsync/salesforce.TestKeyTokenURL"},
	"crm[].salesforce.default_owner":                {"crmsync/salesforce.TestTaskFields"},
	"crm[].salesforce.external_id_field":            {"crmsync/salesforce.TestLostAnswerUpsert", "crmsync/salesforce.TestBatchUpsert"},
	"crm[].salesforce.template_field":               {"crmsync/salesforce.TestKeyTemplateFieldAndSubjects"},
	"crm[].salesforce.status":                       {"crmsync/salesforce.TestPermanentErrors"},
	"crm[].salesforce.missed_status":                {"crmsync/salesforce.TestTaskFields"},
	"crm[].salesforce.subjects.incoming":            {"crmsync/salesforce.TestKeyTemplateFieldAndSubjects"},
	"crm[].salesforce.subjects.outgoing":            {"crmsync/salesforce.TestKeyTemplateFieldAndSubjects"},
	"crm[].salesforce.subjects.missed_incoming":     {"crmsync/salesforce.TestKeyTemplateFieldAndSubjects"},
	"crm[].salesforce.subjects.unaccepted_outgoing": {"crmsync/salesforce.TestKeyTemplateFieldAndSubjects"},
	"crm[].salesforce.max_concurrency":              {"crmsync/salesforce.TestKeyMaxConcurrencyAndBatchSize"},
	"crm[].salesforce.batch_size":                   {"crmsync/salesforce.TestKeyMaxConcurrencyAndBatchSize"},
	"crm[].salesforce.timeout":                      {"crmsync/salesforce.TestKeyTimeout"},

	"crm[].hubspot.token":                        {"crmsync/hubspot.TestKeyTokenAndCredential", "crmsync/hubspot.TestConformance"},
	"crm[].hubspot.token_file":                   {"crmsync/hubspot.TestRotatedToken"},
	"crm[].hubspot.token_credential":             {"crmsync/hubspot.TestKeyTokenAndCredential"},
	"crm[].hubspot.url":                          {"crmsync/hubspot.TestConformance"},
	"crm[].hubspot.app_url":                      {"crmsync/hubspot.TestKeyAppURLAndPortalID"},
	"crm[].hubspot.portal_id":                    {"crmsync/hubspot.TestKeyAppURLAndPortalID"},
	"crm[].hubspot.default_owner":                {"crmsync/hubspot.TestCallProperties"},
	"crm[].hubspot.marker_property":              {"crmsync/hubspot.TestKeyPropertiesAndSubjects"},
	"crm[].hubspot.template_property":            {"crmsync/hubspot.TestKeyPropertiesAndSubjects"},
	"crm[].hubspot.subjects.incoming":            {"crmsync/hubspot.TestKeyPropertiesAndSubjects"},
	"crm[].hubspot.subjects.outgoing":            {"crmsync/hubspot.TestKeyPropertiesAndSubjects"},
	"crm[].hubspot.subjects.missed_incoming":     {"crmsync/hubspot.TestKeyPropertiesAndSubjects"},
	"crm[].hubspot.subjects.unaccepted_outgoing": {"crmsync/hubspot.TestKeyPropertiesAndSubjects"},
	"crm[].hubspot.max_concurrency":              {"crmsync/hubspot.TestKeyMaxConcurrencyAndBatchSize"},
	"crm[].hubspot.batch_size":                   {"crmsync/hubspot.TestKeyMaxConcurrencyAndBatchSize"},
	"crm[].hubspot.timeout":                      {"crmsync/hubspot.TestKeyTimeout"},

	"crm[].zoho.data_centre":                  {"crmsync/zoho.TestDataCentre"},
	"crm[].zoho.api_url":                      {"crmsync/zoho.TestConformance"},
	"crm[].zoho.accounts_url":                 {"crmsync/zoho.TestConformance"},
	"crm[].zoho.web_url":                      {"crmsync/zoho.TestRecognitionSync"},
	"crm[].zoho.api_version":                  {"crmsync/zoho.TestKeyAPIVersion"},
	"crm[].zoho.client_id":                    {"crmsync/zoho.TestKeyClientAndSecretSources"},
	"crm[].zoho.client_secret":                {"crmsync/zoho.TestKeyClientAndSecretSources"},
	"crm[].zoho.client_secret_file":           {"crmsync/zoho.TestKeyClientAndSecretSources"},
	"crm[].zoho.client_secret_credential":     {"crmsync/zoho.TestKeyClientAndSecretSources"},
	"crm[].zoho.refresh_token":                {"crmsync/zoho.TestTokenExpiryAndRevocation"},
	"crm[].zoho.refresh_token_file":           {"crmsync/zoho.TestKeyClientAndSecretSources"},
	"crm[].zoho.refresh_token_credential":     {"crmsync/zoho.TestKeyClientAndSecretSources"},
	"crm[].zoho.default_owner":                {"crmsync/zoho.TestCallFields"},
	"crm[].zoho.marker_field":                 {"crmsync/zoho.TestKeyFieldsAndSubjects"},
	"crm[].zoho.template_field":               {"crmsync/zoho.TestKeyFieldsAndSubjects"},
	"crm[].zoho.subjects.incoming":            {"crmsync/zoho.TestKeyFieldsAndSubjects"},
	"crm[].zoho.subjects.outgoing":            {"crmsync/zoho.TestKeyFieldsAndSubjects"},
	"crm[].zoho.subjects.missed_incoming":     {"crmsync/zoho.TestKeyFieldsAndSubjects"},
	"crm[].zoho.subjects.unaccepted_outgoing": {"crmsync/zoho.TestKeyFieldsAndSubjects"},
	"crm[].zoho.max_concurrency":              {"crmsync/zoho.TestKeyMaxConcurrencyAndBatchSize"},
	"crm[].zoho.batch_size":                   {"crmsync/zoho.TestKeyMaxConcurrencyAndBatchSize"},
	"crm[].zoho.timeout":                      {"crmsync/zoho.TestKeyTimeout"},

	"crm[].pipedrive.auth":                         {"crmsync/pipedrive.TestOAuth"},
	"crm[].pipedrive.api_token":                    {"crmsync/pipedrive.TestPermanentErrors", "crmsync/pipedrive.TestConformance"},
	"crm[].pipedrive.api_token_file":               {"crmsync/pipedrive.TestKeyAPITokenSources"},
	"crm[].pipedrive.api_token_credential":         {"crmsync/pipedrive.TestKeyAPITokenSources"},
	"crm[].pipedrive.client_id":                    {"crmsync/pipedrive.TestKeyOAuthSources"},
	"crm[].pipedrive.client_secret":                {"crmsync/pipedrive.TestOAuth"},
	"crm[].pipedrive.client_secret_file":           {"crmsync/pipedrive.TestKeyOAuthSources"},
	"crm[].pipedrive.client_secret_credential":     {"crmsync/pipedrive.TestKeyOAuthSources"},
	"crm[].pipedrive.refresh_token":                {"crmsync/pipedrive.TestKeyOAuthSources"},
	"crm[].pipedrive.refresh_token_file":           {"crmsync/pipedrive.TestOAuth"},
	"crm[].pipedrive.refresh_token_credential":     {"crmsync/pipedrive.TestKeyOAuthSources"},
	"crm[].pipedrive.token_url":                    {"crmsync/pipedrive.TestOAuth"},
	"crm[].pipedrive.url":                          {"crmsync/pipedrive.TestConformance"},
	"crm[].pipedrive.company_domain":               {"crmsync/pipedrive.TestKeyCompanyDomain"},
	"crm[].pipedrive.default_owner":                {"crmsync/pipedrive.TestCallLogFields"},
	"crm[].pipedrive.subjects.incoming":            {"crmsync/pipedrive.TestKeySubjects"},
	"crm[].pipedrive.subjects.outgoing":            {"crmsync/pipedrive.TestKeySubjects"},
	"crm[].pipedrive.subjects.missed_incoming":     {"crmsync/pipedrive.TestKeySubjects"},
	"crm[].pipedrive.subjects.unaccepted_outgoing": {"crmsync/pipedrive.TestKeySubjects"},
	"crm[].pipedrive.max_concurrency":              {"crmsync/pipedrive.TestKeyMaxConcurrency"},
	"crm[].pipedrive.timeout":                      {"crmsync/pipedrive.TestKeyTimeout"},

	"crm[].creatio.url":                          {"crmsync/creatio.TestConformance"},
	"crm[].creatio.odata_path":                   {"crmsync/creatio.TestKeyODataPath"},
	"crm[].creatio.auth":                         {"crmsync/creatio.TestConformance", "crmsync/creatio.TestExpiryAndRefusedLogin"},
	"crm[].creatio.identity_url":                 {"crmsync/creatio.TestKeyIdentityURL"},
	"crm[].creatio.client_id":                    {"crmsync/creatio.TestKeyCredentials"},
	"crm[].creatio.client_secret":                {"crmsync/creatio.TestKeyCredentials", "crmsync/creatio.TestConformance"},
	"crm[].creatio.client_secret_file":           {"crmsync/creatio.TestKeyCredentials"},
	"crm[].creatio.client_secret_credential":     {"crmsync/creatio.TestKeyCredentials"},
	"crm[].creatio.username":                     {"crmsync/creatio.TestKeyCredentials"},
	"crm[].creatio.password":                     {"crmsync/creatio.TestExpiryAndRefusedLogin"},
	"crm[].creatio.password_file":                {"crmsync/creatio.TestKeyCredentials"},
	"crm[].creatio.password_credential":          {"crmsync/creatio.TestKeyCredentials"},
	"crm[].creatio.write":                        {"crmsync/creatio.TestRecords"},
	"crm[].creatio.default_owner":                {"crmsync/creatio.TestRecords"},
	"crm[].creatio.template_field":               {"crmsync/creatio.TestKeyTemplateFieldAndSubjects"},
	"crm[].creatio.subjects.incoming":            {"crmsync/creatio.TestKeyTemplateFieldAndSubjects"},
	"crm[].creatio.subjects.outgoing":            {"crmsync/creatio.TestKeyTemplateFieldAndSubjects"},
	"crm[].creatio.subjects.missed_incoming":     {"crmsync/creatio.TestKeyTemplateFieldAndSubjects"},
	"crm[].creatio.subjects.unaccepted_outgoing": {"crmsync/creatio.TestKeyTemplateFieldAndSubjects"},
	"crm[].creatio.max_concurrency":              {"crmsync/creatio.TestKeyMaxConcurrency"},
	"crm[].creatio.timeout":                      {"crmsync/creatio.TestKeyTimeout"},

	"crm[].recognition.enabled":                 {"internal/app.TestRunWithDynamics", "crmsync/phoneindex.TestIntegrationLifecycle"},
	"crm[].recognition.region":                  {"crmsync/phoneindex.TestLookup", "crmsync/phoneindex.TestNoRegion"},
	"crm[].recognition.tail_digits":             {"crmsync/phoneindex.TestTailDigits"},
	"crm[].recognition.interval":                {"crmsync/phoneindex.TestKeyIntervals"},
	"crm[].recognition.full_interval":           {"crmsync/phoneindex.TestKeyIntervals"},
	"crm[].recognition.entities[].name":         {"crmsync/dynamics.TestKeyRecognitionEntities"},
	"crm[].recognition.entities[].entity_set":   {"crmsync/dynamics.TestKeyRecognitionEntities"},
	"crm[].recognition.entities[].key":          {"crmsync/dynamics.TestKeyRecognitionEntities"},
	"crm[].recognition.entities[].name_field":   {"crmsync/dynamics.TestKeyRecognitionEntities"},
	"crm[].recognition.entities[].phone_fields": {"crmsync/dynamics.TestKeyRecognitionEntities"},
	"crm[].recognition.entities[].type":         {"crmsync/dynamics.TestKeyRecognitionEntities"},
	"crm[].recognition.entities[].fields":       {"crmsync/dynamics.TestRecordsOwnerAndFields", "internal/app.TestDialplanSnippets"},
	"crm[].recognition.entities[].owner_field":  {"crmsync/dynamics.TestRecordsOwnerAndFields", "internal/app.TestDialplanSnippets"},
	"crm[].recognition.entities[].org_field":    {"crmsync/salesforce.TestKeyRecognitionOrgField", "crmsync/creatio.TestRecognitionSync", "crmsync/hubspot.TestRecognitionSync"},
	"crm[].dynamics.wrapup.field":               {"crmsync/dynamics.TestUpdateColumns", "crmsync/dynamics.TestConformance"},
	"crm[].dynamics.wrapup.notes_field":         {"crmsync/dynamics.TestUpdateColumns"},

	"users[].direct_number":     {"internal/routing.TestRoute"},
	"routing.rules[].name":      {"internal/routing.TestRoute", "internal/routing.TestRouteCounts", "internal/api.TestRouteAPI"},
	"routing.rules[].match":     {"internal/routing.TestRoute", "internal/app.TestDialplanSnippets"},
	"routing.rules[].field":     {"internal/routing.TestRoute"},
	"routing.rules[].values":    {"internal/routing.TestRoute"},
	"routing.rules[].prefixes":  {"internal/routing.TestRoute"},
	"routing.rules[].numbers":   {"internal/routing.TestRoute"},
	"routing.rules[].target":    {"internal/routing.TestRoute"},
	"routing.rules[].when_free": {"internal/routing.TestRoute", "internal/app.TestDialplanSnippets"},

	"wrapup.codes":            {"crmsync.TestWrapupsDispose", "internal/api.TestDispositionAPI"},
	"wrapup.complete_on_wrap": {"crmsync.TestWrapupsEnqueue", "internal/app.TestWrapupTimeoutCompletes", "internal/faulttest.TestWrapupSurvivesKill"},
	"wrapup.timeout":          {"crmsync.TestWrapupsEnqueue", "internal/app.TestWrapupTimeoutCompletes"},

	"callbacks.subject":               {"crmsync.TestCallbacksRequest"},
	"callbacks.profiles[].queue":      {"crmsync.TestCallbacksRequest"},
	"callbacks.profiles[].crm_queue":  {"crmsync.TestCallbacksRequest", "crmsync/dynamics.TestCallbackOwnership"},
	"callbacks.profiles[].ownership":  {"crmsync/dynamics.TestCallbackOwnership", "crmsync/webhook.TestCallbackEvents"},
	"callbacks.profiles[].subject":    {"crmsync.TestCallbacksRequest"},
	"callbacks.profiles[].duplicates": {"crmsync/dynamics.TestCallbackDuplicates", "crmsync/webhook.TestCallbackEvents"},

	// The agents' desktop: caller cards, screen-pop rules, scripts,
	// click-to-dial (docs/agents.md).
	"click_to_dial.caller_id":    {"internal/app.TestClickToDialKeys"},
	"click_to_dial.context":      {"internal/app.TestClickToDialKeys"},
	"click_to_dial.enabled":      {"internal/app.TestClickToDialKeys", "internal/app.TestClickToDialARI"},
	"click_to_dial.ring_timeout": {"internal/app.TestClickToDialKeys"},
	"click_to_dial.technology":   {"internal/app.TestClickToDialKeys"},
	"click_to_dial.via":          {"internal/app.TestClickToDialKeys"},
	"crm[].scripts[].name":       {"crmsync/connectors.TestScriptTemplates", "internal/app.TestReloadScreenPopsAndScripts", "internal/app.TestAgentPageInChromium"},
	"crm[].scripts[].url":        {"crmsync/connectors.TestScriptTemplates", "internal/app.TestReloadScreenPopsAndScripts", "internal/app.TestAgentPageInChromium"},
	"ddi_names":                  {"internal/app.TestCardContentOverRecordings", "internal/app.TestReloadScreenPopsAndScripts"},
	"policy.defaults.screen_pop.rules.default.add_new_record":  {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.default.connector":       {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.default.entities":        {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.default.url":             {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.inbound.add_new_record":  {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.inbound.connector":       {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.inbound.entities":        {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.inbound.url":             {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf", "internal/app.TestReloadScreenPopsAndScripts"},
	"policy.defaults.screen_pop.rules.internal.add_new_record": {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.internal.connector":      {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.internal.entities":       {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.internal.url":            {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.manual.add_new_record":   {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.manual.connector":        {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.manual.entities":         {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.manual.url":              {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.outbound.add_new_record": {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.outbound.connector":      {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.outbound.entities":       {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.rules.outbound.url":            {"internal/cards.TestRulePerCallType", "crmsync.TestScreenPopOf"},
	"policy.defaults.screen_pop.open":                          {"internal/app.TestCardsOverRecordings", "internal/cards.TestOpenClose"},
	"policy.defaults.screen_pop.close":                         {"internal/app.TestCardsOverRecordings", "internal/cards.TestOpenClose"},
	"policy.defaults.screen_pop.open_outgoing":                 {"internal/app.TestCardsOverRecordings", "internal/cards.TestOutgoing"},
	"policy.defaults.screen_pop.caller_card_delay":             {"internal/app.TestCardsOverRecordings", "internal/cards.TestOpenClose"},
}

// notYetRead are keys example.yaml documents that nothing reads yet. Each
// is said so in docs/config.md; each leaves this set, for effects, the day
// something reads it.
var notYetRead = map[string]string{}

// TestEveryKeyHasAnEffect: every key of example.yaml has a test showing
// its effect (or is listed, visibly, as not read yet), and every test
// named exists.
func TestEveryKeyHasAnEffect(t *testing.T) {
	keys := exampleKeys(t)
	inExample := map[string]bool{}
	for _, k := range keys {
		inExample[k] = true
		_, tested := effects[k]
		_, pending := notYetRead[k]
		switch {
		case tested && pending:
			t.Errorf("%s: both tested and listed as not read yet", k)
		case !tested && !pending:
			t.Errorf("%s: no test shows what it does; add one to effects, or take the key out of example.yaml", k)
		}
	}
	for k := range effects {
		if !inExample[k] {
			t.Errorf("effects lists %s, which example.yaml does not set", k)
		}
	}
	for k := range notYetRead {
		if !inExample[k] {
			t.Errorf("notYetRead lists %s, which example.yaml does not set", k)
		}
	}
	tests := map[string]map[string]bool{} // dir -> test functions
	for k, refs := range effects {
		if len(refs) == 0 {
			t.Errorf("%s: no test named", k)
		}
		for _, ref := range refs {
			dir, name, ok := strings.Cut(ref, ".")
			if !ok {
				t.Errorf("%s: %q is not dir.TestName", k, ref)
				continue
			}
			if tests[dir] == nil {
				tests[dir] = testFuncs(t, dir)
			}
			if !tests[dir][name] {
				t.Errorf("%s: %s has no %s", k, dir, name)
			}
		}
	}
}

// testFuncs lists the Test functions of the module's package in dir.
func testFuncs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Errorf("no tests in %s", dir)
		return map[string]bool{}
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Test") {
				out[fd.Name.Name] = true
			}
		}
	}
	return out
}
