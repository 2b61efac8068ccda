{{/* The chart's name, cut to the 63 characters a label allows. */}}
{{- define "enforcement.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "enforcement.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The three services: values key and name. */}}
{{- define "enforcement.services" -}}
caseIntake: case-intake
supervisionScoring: supervision-scoring
reporting: reporting
{{- end -}}

{{- define "enforcement.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: {{ include "enforcement.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one service: (dict "root" $ "service" "case-intake"). */}}
{{- define "enforcement.selectorLabels" -}}
app.kubernetes.io/name: {{ .service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "enforcement.secretName" -}}
{{- default (printf "%s-secrets" (include "enforcement.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
The consumer group whose lag scales a consumer: reporting's group, and
scoring's projection group of read-model generation 1 (a rebuild moves it to
the next generation: set supervisionScoring.autoscaling.consumerGroup then).
*/}}
{{- define "enforcement.consumerGroup" -}}
{{- $ns := .root.Values.kafka.topicNamespace -}}
{{- $prefix := ternary (printf "%s." $ns) "" (ne $ns "") -}}
{{- if eq .service "reporting" -}}
{{- printf "%senforcement.reporting" $prefix -}}
{{- else -}}
{{- default (printf "%senforcement.scoring.projection.g1" $prefix) .root.Values.supervisionScoring.autoscaling.consumerGroup -}}
{{- end -}}
{{- end -}}
