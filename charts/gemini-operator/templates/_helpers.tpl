{{/* The release's full name, at most 63 characters. */}}
{{- define "gemini-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gemini-operator.selectorLabels" -}}
app.kubernetes.io/name: gemini-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gemini-operator.labels" -}}
{{ include "gemini-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gemini-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gemini-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
