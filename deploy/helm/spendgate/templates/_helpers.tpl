{{- define "spendgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "spendgate.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "spendgate.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "spendgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "spendgate.secretName" -}}
{{- required "secrets.existingSecret: name the Secret holding postgres-dsn, jwt-secret, key-pepper and service-token" .Values.secrets.existingSecret -}}
{{- end -}}

{{/* environment every spendgate container gets: the secrets it needs and the shared settings */}}
{{- define "spendgate.env" -}}
- name: SPENDGATE_SERVICE_TOKEN
  valueFrom: {secretKeyRef: {name: {{ include "spendgate.secretName" .root }}, key: {{ .root.Values.secrets.serviceTokenKey }}}}
{{- if .postgres }}
- name: SPENDGATE_POSTGRES_DSN
  valueFrom: {secretKeyRef: {name: {{ include "spendgate.secretName" .root }}, key: {{ .root.Values.secrets.postgresDSNKey }}}}
{{- end }}
{{- if .userSecrets }}
- name: SPENDGATE_JWT_SECRET
  valueFrom: {secretKeyRef: {name: {{ include "spendgate.secretName" .root }}, key: {{ .root.Values.secrets.jwtSecretKey }}}}
- name: SPENDGATE_KEY_PEPPER
  valueFrom: {secretKeyRef: {name: {{ include "spendgate.secretName" .root }}, key: {{ .root.Values.secrets.keyPepperKey }}}}
{{- end }}
- name: SPENDGATE_LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
{{- end -}}

{{- define "spendgate.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 5
  failureThreshold: 2
{{- end -}}

{{/* the pipeline flags shared by ingest receivers and consumers */}}
{{- define "spendgate.ingestArgs" -}}
- --listen=:8082
- --nats-url={{ .Values.nats.url }}
- --stream-replicas={{ .Values.nats.streamReplicas }}
- --stream-prefix={{ .Values.streamPrefix }}
- --clickhouse-addr={{ .Values.clickhouse.addr }}
- --clickhouse-database={{ .Values.clickhouse.database }}
{{- with .Values.clickhouse.cluster }}
- --clickhouse-cluster={{ . }}
{{- end }}
{{- with .Values.clickhouse.httpAddr }}
- --clickhouse-http-addr={{ . }}
{{- end }}
{{- with .Values.clickhouse.httpCompression }}
- --clickhouse-http-compression={{ . }}
{{- end }}
- --partitions={{ .Values.ingest.partitions }}
{{- if .Values.metrics.port }}
- --metrics-addr=:{{ .Values.metrics.port }}
{{- end }}
{{- range .Values.ingest.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "spendgate.hpa" -}}
{{- if .values.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .name }}
  labels:
    {{- include "spendgate.labels" .root | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ .kind | default "Deployment" }}
    name: {{ .name }}
  minReplicas: {{ .values.autoscaling.minReplicas }}
  maxReplicas: {{ .values.autoscaling.maxReplicas }}
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: {{ .values.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- if .values.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "spendgate.labels" .root | nindent 4 }}
spec:
  minAvailable: {{ .values.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "spendgate.selector" (dict "root" .root "component" .component) | nindent 6 }}
{{- end }}
{{- end -}}

{{- define "spendgate.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  labels:
    {{- include "spendgate.labels" .root | nindent 4 }}
    {{- include "spendgate.selector" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  {{- if .headless }}
  clusterIP: None
  {{- end }}
  selector:
    {{- include "spendgate.selector" (dict "root" .root "component" .component) | nindent 4 }}
  ports:
  - name: http
    port: {{ .port }}
    targetPort: http
  {{- if .root.Values.metrics.port }}
  - name: metrics
    port: {{ .root.Values.metrics.port }}
    targetPort: metrics
  {{- end }}
{{- end -}}
