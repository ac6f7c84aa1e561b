{{/*
Names, labels and the list of enabled services, shared by every template.
*/}}

{{/* Prefix of every resource name: fullnameOverride, else the release name. */}}
{{- define "hexa.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 32 | trimSuffix "-" -}}
{{- end -}}

{{- define "hexa.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "hexa.labels" -}}
helm.sh/chart: {{ include "hexa.chart" . }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels selecting every pod of the release. */}}
{{- define "hexa.releaseSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels selecting one service's pods. Argument: (dict "root" $ "name" <service>). */}}
{{- define "hexa.selectorLabels" -}}
{{ include "hexa.releaseSelector" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Labels of one service's resources. Argument: (dict "root" $ "svc" <service>). */}}
{{- define "hexa.serviceLabels" -}}
{{ include "hexa.labels" .root }}
app.kubernetes.io/component: {{ .svc.name }}
hexa/suite: {{ .svc.suite }}
{{- end -}}

{{/*
Deep merge of two maps as JSON. Unlike Sprig's merge functions, a value in "over" always wins,
also false, 0 and "" (so a service can switch off what serviceDefaults switches on). Lists are
replaced, not appended.
*/}}
{{- define "hexa.merge" -}}
{{- $out := deepCopy .base -}}
{{- range $key, $value := .over -}}
{{- $current := get $out $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- $_ := set $out $key (include "hexa.merge" (dict "base" $current "over" $value) | fromJson) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The enabled services as JSON: name -> serviceDefaults merged with the service's entry, plus
  name, app, suite, enabled, expose, calls, connectServices,
  resource (the Kubernetes name, <fullname>-<name>),
  callers (the enabled services that call it).
A service is enabled when its suite and the service itself are. Fails on a call to a service that
is not enabled, or an autoscaler whose minimum exceeds its maximum.
*/}}
{{- define "hexa.services" -}}
{{- $root := . -}}
{{- $fullname := include "hexa.fullname" . -}}
{{- $enabled := dict -}}
{{- range $name, $entry := .Values.services -}}
{{- $suite := get $root.Values.suites $entry.suite | default dict -}}
{{- $on := and (ternary $entry.enabled true (hasKey $entry "enabled")) (default false $suite.enabled) -}}
{{- if $on -}}
{{- $svc := include "hexa.merge" (dict "base" $root.Values.serviceDefaults "over" $entry) | fromJson -}}
{{- $_ := set $svc "name" $name -}}
{{- $_ := set $svc "app" (default $name $entry.app) -}}
{{- $_ := set $svc "expose" (ternary $entry.expose true (hasKey $entry "expose")) -}}
{{- $_ := set $svc "calls" (default list $entry.calls) -}}
{{- $_ := set $svc "callers" list -}}
{{- $_ := set $svc "resource" (printf "%s-%s" $fullname $name) -}}
{{- if and $svc.autoscaling.enabled (gt (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) -}}
{{- fail (printf "services.%s.autoscaling: minReplicas (%d) is larger than maxReplicas (%d)" $name (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- $_ := set $enabled $name $svc -}}
{{- end -}}
{{- end -}}
{{- range $name, $svc := $enabled -}}
{{- range $called := $svc.calls -}}
{{- $target := get $enabled $called -}}
{{- if not $target -}}
{{- fail (printf "services.%s calls %s, which is not an enabled service: enable it (and its suite) or disable %s" $name $called $name) -}}
{{- end -}}
{{- $_ := set $target "callers" (append $target.callers $name) -}}
{{- end -}}
{{- end -}}
{{- toJson $enabled -}}
{{- end -}}

{{/* The environment variable of a called service's URL: order -> ORDER_URL, vaccination-dashboard -> VACCINATION_DASHBOARD_URL. */}}
{{- define "hexa.urlVariable" -}}
{{- printf "%s_URL" (regexReplaceAll "[^A-Z0-9]" (upper .) "_") -}}
{{- end -}}

{{/* A number from values as a plain integer string (JSON round trips turn integers into floats). */}}
{{- define "hexa.int" -}}
{{- printf "%d" (int64 .) -}}
{{- end -}}

{{/* image:tag of a service (its own image settings override the chart's). */}}
{{- define "hexa.image" -}}
{{- $image := include "hexa.merge" (dict "base" .root.Values.image "over" (default dict .svc.image)) | fromJson -}}
{{- printf "%s:%s" $image.repository (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{- define "hexa.imagePullPolicy" -}}
{{- $image := include "hexa.merge" (dict "base" .root.Values.image "over" (default dict .svc.image)) | fromJson -}}
{{- $image.pullPolicy -}}
{{- end -}}

{{- define "hexa.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hexa.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret and key holding DATABASE_URL. */}}
{{- define "hexa.databaseSecretName" -}}
{{- if .Values.database.url -}}
{{- printf "%s-database" (include "hexa.fullname" .) -}}
{{- else -}}
{{- required "database: set database.url, or database.existingSecret.name to a Secret holding the URL" .Values.database.existingSecret.name -}}
{{- end -}}
{{- end -}}

{{- define "hexa.databaseSecretKey" -}}
{{- if .Values.database.url -}}DATABASE_URL{{- else -}}{{ .Values.database.existingSecret.key }}{{- end -}}
{{- end -}}

{{/*
Seconds between SIGTERM and SIGKILL: the drain delay and the grace period for calls, plus time to
stop the consumers, flush the outbox and close the pools. A value set in values must leave room
for the first two.
*/}}
{{- define "hexa.terminationGracePeriodSeconds" -}}
{{- $needed := div (add (int64 .Values.config.shutdownDrainMs) (int64 .Values.config.shutdownGraceMs) 999) 1000 -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add $needed 15 -}}
{{- else if le (int64 .Values.terminationGracePeriodSeconds) $needed -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be larger than (config.shutdownDrainMs + config.shutdownGraceMs) / 1000 = %d s, or the pods are killed before they finish their calls" (int64 .Values.terminationGracePeriodSeconds) $needed) -}}
{{- else -}}
{{- int64 .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/* The pod security context every pod of the chart runs with. */}}
{{- define "hexa.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container security context every container of the chart runs with. */}}
{{- define "hexa.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
A service's environment as JSON: the chart's settings, the URLs of the services it calls, then its
own env (which wins). Argument: (dict "root" $ "svc" <service>).
*/}}
{{- define "hexa.env" -}}
{{- $root := .root -}}
{{- $config := $root.Values.config -}}
{{- $env := dict
  "HOST" "0.0.0.0"
  "PORT" (include "hexa.int" $root.Values.service.port)
  "LOG_LEVEL" $config.logLevel
  "NATS_URL" $root.Values.nats.url
  "MAX_IN_FLIGHT" (include "hexa.int" $config.maxInFlight)
  "MAX_QUEUED_CALLS" (include "hexa.int" $config.maxQueuedCalls)
  "MAX_QUEUE_WAIT_MS" (include "hexa.int" $config.maxQueueWaitMs)
  "MAX_INTERNAL_IN_FLIGHT" (include "hexa.int" $config.maxInternalInFlight)
  "BOOKING_HOLD_LEASE_S" (include "hexa.int" $config.bookingHoldLeaseS)
  "SHUTDOWN_GRACE_MS" (include "hexa.int" $config.shutdownGraceMs)
  "SHUTDOWN_DRAIN_MS" (include "hexa.int" $config.shutdownDrainMs)
  "DATABASE_LIVENESS_MS" (include "hexa.int" $config.databaseLivenessMs)
  "CONSUMER_MAX_DELIVER" (include "hexa.int" $config.consumerMaxDeliver)
  "HEXA_VERSION" (include "hexa.image" . | splitList ":" | last)
-}}
{{- with $config.busNamespace -}}
{{- $_ := set $env "BUS_NAMESPACE" . -}}
{{- end -}}
{{- $auth := $root.Values.auth -}}
{{- $_ := set $env "AUTH_ROLE_CLAIM" $auth.roleClaim -}}
{{- $_ := set $env "RATE_LIMIT_PER_SECOND" (include "hexa.int" $auth.rateLimit.perSecond) -}}
{{- $_ := set $env "RATE_LIMIT_BURST" (include "hexa.int" $auth.rateLimit.burst) -}}
{{- $_ := set $env "MAX_REQUEST_BYTES" (include "hexa.int" $auth.maxRequestBytes) -}}
{{- with $auth.jwksUrl }}{{ $_ := set $env "AUTH_JWKS_URL" . }}{{ else }}{{ $_ := set $env "AUTH_DEV_KEY_DIR" (include "hexa.devKeyDir" $root) }}{{ end -}}
{{- with $auth.issuer }}{{ $_ := set $env "AUTH_ISSUER" . }}{{ end -}}
{{- with $auth.audience }}{{ $_ := set $env "AUTH_AUDIENCE" . }}{{ end -}}
{{- if and $auth.clientTokenUrl .svc.calls }}{{ $_ := set $env "AUTH_CLIENT_TOKEN_URL" $auth.clientTokenUrl }}{{ end -}}
{{- with $auth.corsAllowedOrigins }}{{ $_ := set $env "CORS_ALLOWED_ORIGINS" (join "," .) }}{{ end -}}
{{- with $root.Values.tracing.otlpEndpoint -}}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" . -}}
{{- $_ := set $env "OTEL_TRACES_SAMPLER" $root.Values.tracing.sampler -}}
{{- if not (kindIs "invalid" $root.Values.tracing.samplerArg) -}}
{{- $_ := set $env "OTEL_TRACES_SAMPLER_ARG" (toString $root.Values.tracing.samplerArg) -}}
{{- end -}}
{{- end -}}
{{- range $called := .svc.calls -}}
{{- $_ := set $env (include "hexa.urlVariable" $called) (printf "http://%s-%s:%d" (include "hexa.fullname" $root) $called (int64 $root.Values.service.port)) -}}
{{- end -}}
{{- range $key, $value := .svc.env -}}
{{- $_ := set $env $key (ternary (include "hexa.int" $value) (toString $value) (kindIs "float64" $value)) -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{/*
Authentication has two modes.
- Development (no auth.jwksUrl): the chart generates one ES256 signing key (a PEM in the Secret
  hexa.devKeySecretName, kept across upgrades), every pod verifies tokens signed with it, and
  `kubectl exec deploy/<service> -- hexa token …` mints them (see NOTES.txt).
- Production (auth.jwksUrl): tokens of an identity provider. Its issuer and audience are required,
  and so are client credentials for every enabled service that calls another.
Fails at once, naming the missing value.
*/}}
{{- define "hexa.devKeySecretName" -}}
{{- printf "%s-dev-auth" (include "hexa.fullname" .) -}}
{{- end -}}

{{/* Where the pods mount the development key (AUTH_DEV_KEY_DIR). */}}
{{- define "hexa.devKeyDir" -}}/etc/hexa/dev-auth{{- end -}}

{{- define "hexa.checkAuth" -}}
{{- $auth := .Values.auth -}}
{{- if $auth.jwksUrl -}}
{{- $_ := required "auth.issuer: required with auth.jwksUrl (the `iss` of the identity provider's tokens)" $auth.issuer -}}
{{- $_ := required "auth.audience: required with auth.jwksUrl (the `aud` the tokens carry for this API)" $auth.audience -}}
{{- range $name, $svc := include "hexa.services" . | fromJson -}}
{{- if $svc.calls -}}
{{- $_ := required (printf "auth.clientTokenUrl: required with auth.jwksUrl, since %s calls %s with a token of its own (client credentials)" $name (join ", " $svc.calls)) $auth.clientTokenUrl -}}
{{- $_ := required (printf "auth.clientSecretName: required with auth.jwksUrl, the Secret holding AUTH_CLIENT_ID and AUTH_CLIENT_SECRET for %s" $name) $auth.clientSecretName -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "true" when the web console is rendered: switched on, and a suite is enabled for it to show. */}}
{{- define "hexa.consoleEnabled" -}}
{{- if and .Values.console.enabled (or .Values.suites.trial.enabled .Values.suites.vaccination.enabled) -}}true{{- end -}}
{{- end -}}
