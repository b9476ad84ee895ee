{{/*
Names and labels, the usual Helm way.
*/}}
{{- define "mind-relay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mind-relay.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mind-relay.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mind-relay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mind-relay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mind-relay.labels" -}}
helm.sh/chart: {{ include "mind-relay.chart" . }}
{{ include "mind-relay.selectorLabels" . }}
app.kubernetes.io/version: {{ include "mind-relay.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: alert-relay
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "mind-relay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mind-relay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mind-relay.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "mind-relay.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "mind-relay.imageTag" .) }}
{{- end }}
{{- end }}

{{- define "mind-relay.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "mind-relay.fullname" .) }}
{{- end }}

{{- define "mind-relay.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "mind-relay.fullname" .)) }}
{{- end }}

{{/*
Where the chart mounts things inside the container. The config path is the
one the image's ENTRYPOINT reads.
*/}}
{{- define "mind-relay.configPath" -}}/etc/mind-relay/config.yaml{{- end }}
{{- define "mind-relay.secretsDir" -}}/etc/mind-relay/secrets{{- end }}
{{- define "mind-relay.templatesDir" -}}/etc/mind-relay/templates{{- end }}

{{/*
The secrets the relay can take, one row each:
  values key under .Values.secrets -> key in the Secret (also the file name
  under /etc/mind-relay/secrets) and the config key it feeds (its *_file twin
  is what the chart sets).
*/}}
{{- define "mind-relay.secretTable" -}}
mindAppSecret: {key: mind-app-secret, path: [mind, app_secret]}
callbackToken: {key: mind-callback-token, path: [mind, callback_token]}
alertmanagerBearerToken: {key: alertmanager-bearer-token, path: [sources, alertmanager, bearer_token]}
alertmanagerBasicAuthPassword: {key: alertmanager-basic-auth-password, path: [sources, alertmanager, basic_auth, password]}
grafanaBearerToken: {key: grafana-bearer-token, path: [sources, grafana, bearer_token]}
grafanaBasicAuthPassword: {key: grafana-basic-auth-password, path: [sources, grafana, basic_auth, password]}
grafanaHMACSecret: {key: grafana-hmac-secret, path: [sources, grafana, hmac, secret]}
ackSecret: {key: ack-secret, path: [ack, secret]}
grafanaSilenceToken: {key: grafana-silence-token, path: [ack, silence, grafana_token]}
adminToken: {key: admin-token, path: [admin, token]}
storeDSN: {key: store-dsn, path: [store, dsn]}
{{- end }}

{{/*
The Secret keys in use, as a YAML list: with existingSecret, those listed in
secrets.existingSecretKeys; otherwise those whose value is set.
*/}}
{{- define "mind-relay.wiredSecretKeys" -}}
{{- $table := include "mind-relay.secretTable" . | fromYaml }}
{{- $keys := list }}
{{- range $name := keys $table | sortAlpha }}
{{- $row := get $table $name }}
{{- if $.Values.secrets.existingSecret }}
{{- if has $row.key $.Values.secrets.existingSecretKeys }}
{{- $keys = append $keys $row.key }}
{{- end }}
{{- else if get $.Values.secrets $name }}
{{- $keys = append $keys $row.key }}
{{- end }}
{{- end }}
{{- toYaml $keys }}
{{- end }}

{{/*
Every check that must fail the install rather than the pod. Included by the
ConfigMap, so `helm template` and `helm install` both run it.
*/}}
{{- define "mind-relay.validate" -}}
{{- $cfg := .Values.config }}
{{- $store := $cfg.store | default dict }}
{{- $driver := $store.driver | default "sqlite" }}
{{- if and (eq $driver "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount=%d with store.driver=sqlite: SQLite is one file on a ReadWriteOnce volume that only one pod may write; more replicas need the PostgreSQL store, which is not available yet" (int .Values.replicaCount)) }}
{{- end }}
{{- if eq $driver "sqlite" }}
{{- $path := $store.path | default "" }}
{{- if not (hasPrefix (printf "%s/" (trimSuffix "/" .Values.persistence.mountPath)) $path) }}
{{- fail (printf "config.store.path=%q must be under persistence.mountPath (%s): the root filesystem is read-only" $path .Values.persistence.mountPath) }}
{{- end }}
{{- end }}
{{- if hasKey $cfg "listen" }}
{{- fail "config.listen is set by the chart from containerPort: set containerPort instead" }}
{{- end }}
{{- $table := include "mind-relay.secretTable" . | fromYaml }}
{{- $wired := include "mind-relay.wiredSecretKeys" . | fromYamlArray }}
{{- range $name := keys $table | sortAlpha }}
{{- $row := get $table $name }}
{{- if and $.Values.secrets.existingSecret (get $.Values.secrets $name) }}
{{- fail (printf "secrets.%s is set together with secrets.existingSecret: put it in the existing Secret under the key %q and list that key in secrets.existingSecretKeys" $name $row.key) }}
{{- end }}
{{- /* Walk to the key's parent without creating anything. */}}
{{- $node := $cfg }}
{{- range $k := initial $row.path }}
{{- if kindIs "map" $node }}
{{- $node = get $node $k }}
{{- end }}
{{- end }}
{{- $leaf := last $row.path }}
{{- $dotted := join "." $row.path }}
{{- if kindIs "map" $node }}
{{- $v := get $node $leaf | default "" | toString }}
{{- if and $v (not (regexMatch "^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}$" $v)) }}
{{- fail (printf "config.%s holds a secret in plain text, and the config is a ConfigMap: set secrets.%s instead (mounted as a file), or write ${VAR} and pass VAR with extraEnv from a Secret" $dotted $name) }}
{{- end }}
{{- if has $row.key $wired }}
{{- if $v }}
{{- fail (printf "config.%s and secrets.%s are both set: keep one" $dotted $name) }}
{{- end }}
{{- if get $node (printf "%s_file" $leaf) }}
{{- fail (printf "config.%s_file and secrets.%s are both set: keep one" $dotted $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (has "grafana-silence-token" $wired) (not (dig "ack" "silence" nil $cfg)) }}
{{- fail "secrets.grafanaSilenceToken is set but config.ack.silence is not: the token is only used to create Grafana silences on ack" }}
{{- end }}
{{- range $src := list "alertmanager" "grafana" }}
{{- $pw := printf "%s-basic-auth-password" $src }}
{{- if and (has $pw $wired) (not (dig "sources" $src "basic_auth" "username" "" $cfg)) }}
{{- fail (printf "the %s basic-auth password is set but config.sources.%s.basic_auth.username is not" $src $src) }}
{{- end }}
{{- end }}
{{- if and (dig "sources" "grafana" "hmac" nil $cfg) (not (has "grafana-hmac-secret" $wired)) (not (dig "sources" "grafana" "hmac" "secret_file" "" $cfg)) (not (dig "sources" "grafana" "hmac" "secret" "" $cfg)) }}
{{- fail "config.sources.grafana.hmac is set but has no secret: set secrets.grafanaHMACSecret" }}
{{- end }}
{{- if eq $driver "postgres" }}
{{- fail "store.driver=postgres is not available yet: this release runs one replica with store.driver=sqlite" }}
{{- end }}
{{- /*
Last, so that a more precise problem above is reported first: outside
dry-run the relay refuses to start without the Mind app (its id and its
secret), so the install fails now and says what to set, instead of a pod
that crash-loops. dryRun needs no Mind app at all.
*/}}
{{- if not .Values.dryRun }}
{{- if not (dig "mind" "app_id" "" $cfg | toString | trim) }}
{{- fail "config.mind.app_id is empty: set it to your Mind robot's app id (config.mind.app_id in your values file, or --set config.mind.app_id=<app id>), or set dryRun=true to try the relay without a Mind app" }}
{{- end }}
{{- if not (or (has "mind-app-secret" $wired) (dig "mind" "app_secret" "" $cfg) (dig "mind" "app_secret_file" "" $cfg)) }}
{{- if .Values.secrets.existingSecret }}
{{- fail (printf "secrets.existingSecretKeys lacks mind-app-secret: add it, and the key mind-app-secret holding the Mind app secret to the Secret %s; the relay does not start without the app secret (dryRun=true runs without a Mind app)" .Values.secrets.existingSecret) }}
{{- else }}
{{- fail "no Mind app secret: set secrets.existingSecret to a Secret with the key mind-app-secret and list that key in secrets.existingSecretKeys (or set secrets.mindAppSecret); the relay does not start without the app secret (dryRun=true runs without a Mind app)" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The relay's config file: values.config, plus what the chart owns (listen,
the *_file paths of mounted secrets, the templates glob, external_url from
the Ingress host when unset). Secret values never reach it.
*/}}
{{- define "mind-relay.config" -}}
{{- include "mind-relay.validate" . }}
{{- $cfg := deepCopy .Values.config }}
{{- $_ := set $cfg "listen" (printf ":%d" (int .Values.containerPort)) }}
{{- $table := include "mind-relay.secretTable" . | fromYaml }}
{{- $wired := include "mind-relay.wiredSecretKeys" . | fromYamlArray }}
{{- range $name := keys $table | sortAlpha }}
{{- $row := get $table $name }}
{{- if has $row.key $wired }}
{{- $node := $cfg }}
{{- range $k := initial $row.path }}
{{- if not (kindIs "map" (get $node $k)) }}
{{- $_ := set $node $k dict }}
{{- end }}
{{- $node = get $node $k }}
{{- end }}
{{- $_ := unset $node (last $row.path) }}
{{- $_ := set $node (printf "%s_file" (last $row.path)) (printf "%s/%s" (include "mind-relay.secretsDir" $) $row.key) }}
{{- end }}
{{- end }}
{{- if .Values.extraTemplates }}
{{- if not (kindIs "map" $cfg.templates) }}
{{- $_ := set $cfg "templates" dict }}
{{- end }}
{{- $files := $cfg.templates.files | default list }}
{{- $_ := set $cfg.templates "files" (append $files (printf "%s/*.tmpl" (include "mind-relay.templatesDir" .))) }}
{{- end }}
{{- if and .Values.ingress.enabled (not $cfg.external_url) .Values.ingress.hosts }}
{{- $scheme := ternary "https" "http" (gt (len .Values.ingress.tls) 0) }}
{{- $_ := set $cfg "external_url" (printf "%s://%s" $scheme (first .Values.ingress.hosts)) }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
A hash of everything the pod reads at start: config, templates and the
chart-made Secret (or the name and keys of an existing one). A change rolls
the pods.
*/}}
{{- define "mind-relay.configChecksum" -}}
{{- $parts := list (include "mind-relay.config" .) (toYaml .Values.extraTemplates) }}
{{- if .Values.secrets.existingSecret }}
{{- $parts = append $parts (printf "%s %s" .Values.secrets.existingSecret (join "," .Values.secrets.existingSecretKeys)) }}
{{- else }}
{{- $parts = append $parts (include (print .Template.BasePath "/secret.yaml") .) }}
{{- end }}
{{- join "\n---\n" $parts | sha256sum }}
{{- end }}
