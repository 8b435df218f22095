{{/* Names and labels, after the helm create / argo-helm conventions. */}}
{{- define "disan.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "disan.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "disan.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "disan.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: disan
{{- end -}}

{{/* Selector of one component: call with (dict "root" $ "component" "gateway"). */}}
{{- define "disan.selectorLabels" -}}
app.kubernetes.io/name: {{ include "disan.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "disan.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* A service's settings: the chart defaults overlaid with its own entry. */}}
{{- define "disan.serviceValues" -}}
{{- $svc := deepCopy .svc -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.defaults) $svc) -}}
{{- end -}}

{{- define "disan.host" -}}
{{- if .root.Values.dev.enabled -}}
{{- printf "%s-%s" (include "disan.fullname" .root) .name -}}
{{- else -}}
{{- index .root.Values .name "host" -}}
{{- end -}}
{{- end -}}

{{/*
Environment of every Disan container: non-secret settings as values, secrets by secretKeyRef,
connection URLs composed from both ($(VAR) expansion) unless a URL comes whole from the Secret.
*/}}
{{- define "disan.env" -}}
{{- $v := .Values -}}
{{- $secret := $v.secrets.existingSecret -}}
- name: DISAN_ENV
  value: {{ $v.config.environment | quote }}
- name: DISAN_PUBLIC_URL
  value: {{ $v.config.publicUrl | quote }}
- name: DISAN_BIND_HOST
  value: "0.0.0.0"
- name: DISAN_TOKEN_KID
  value: {{ $v.config.tokenKid | quote }}
- name: DISAN_ADMIN_USER
  value: {{ $v.config.adminUser | quote }}
- name: DISAN_TRUSTED_PROXIES
  value: {{ $v.config.trustedProxies | quote }}
- name: DISAN_S3_ENDPOINT
  value: {{ ternary (printf "%s-minio:9000" (include "disan.fullname" .)) $v.s3.endpoint $v.dev.enabled | quote }}
- name: DISAN_S3_SECURE
  value: {{ $v.s3.secure | toString | quote }}
- name: DISAN_S3_REGION
  value: {{ $v.s3.region | quote }}
{{- range $key := list "DISAN_S3_ACCESS_KEY" "DISAN_S3_SECRET_KEY" "DISAN_TOKEN_SECRET" "DISAN_ADMIN_PASSWORD" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $key }}}
{{- end }}
- name: DISAN_TOKEN_PREVIOUS_KEYS
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: DISAN_TOKEN_PREVIOUS_KEYS, optional: true}
- name: DISAN_SMTP_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: DISAN_SMTP_PASSWORD, optional: true}
{{- if $v.postgresql.urlSecretKey }}
- name: DISAN_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $v.postgresql.urlSecretKey }}}
{{- else }}
- name: DISAN_DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: DISAN_DB_PASSWORD}
- name: DISAN_DATABASE_URL
  value: {{ printf "postgresql://%s:$(DISAN_DB_PASSWORD)@%s:%v/%s?sslmode=%s" $v.postgresql.user (include "disan.host" (dict "root" . "name" "postgresql")) $v.postgresql.port $v.postgresql.database $v.postgresql.sslmode | quote }}
{{- end }}
{{- if $v.rabbitmq.urlSecretKey }}
- name: DISAN_AMQP_URI
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $v.rabbitmq.urlSecretKey }}}
{{- else }}
- name: DISAN_RABBITMQ_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: DISAN_RABBITMQ_PASSWORD}
- name: DISAN_AMQP_URI
  value: {{ printf "%s://%s:$(DISAN_RABBITMQ_PASSWORD)@%s:%v/%s" (ternary "amqps" "amqp" $v.rabbitmq.tls) $v.rabbitmq.user (include "disan.host" (dict "root" . "name" "rabbitmq")) $v.rabbitmq.port $v.rabbitmq.vhost | quote }}
{{- end }}
{{- if $v.redis.urlSecretKey }}
- name: DISAN_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $v.redis.urlSecretKey }}}
{{- else }}
- name: DISAN_REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: DISAN_REDIS_PASSWORD, optional: true}
- name: DISAN_REDIS_URL
  value: {{ printf "%s://:$(DISAN_REDIS_PASSWORD)@%s:%v/%v" (ternary "rediss" "redis" $v.redis.tls) (include "disan.host" (dict "root" . "name" "redis")) $v.redis.port $v.redis.db | quote }}
{{- end }}
{{- range $k, $val := $v.config.extraEnv }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- end -}}

{{- define "disan.podSecurity" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}
