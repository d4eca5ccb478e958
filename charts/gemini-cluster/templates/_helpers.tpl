{{/* The GeminiCluster's name: the release name, at most 52 characters so that the
     StatefulSet's pod and claim names stay within Kubernetes' limits. */}}
{{- define "gemini-cluster.name" -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "gemini-cluster.labels" -}}
app.kubernetes.io/name: gemini
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gemini-cluster.baseURL" -}}
http://{{ include "gemini-cluster.name" . }}.{{ .Release.Namespace }}.svc:8086
{{- end -}}
