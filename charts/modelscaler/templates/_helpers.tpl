{{/* Names, labels and the checks every template shares. */}}

{{/* The chart name, or nameOverride. */}}
{{- define "modelscaler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name: release + chart name, unless the release name already contains it. */}}
{{- define "modelscaler.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "modelscaler.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The labels that select the operator pods (never change them: selectors are immutable). */}}
{{- define "modelscaler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelscaler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* The labels on every object of the release. */}}
{{- define "modelscaler.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "modelscaler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: modelscaler
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "modelscaler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "modelscaler.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator image: repository@digest, or repository:tag (the tag defaults to appVersion). */}}
{{- define "modelscaler.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Where the Prometheus credentials are mounted in the operator container. */}}
{{- define "modelscaler.prometheusCredentialsDir" -}}/etc/modelscaler/prometheus{{- end -}}

{{/* True (non-empty) when some Prometheus credential is mounted as a file. */}}
{{- define "modelscaler.prometheusMountsFiles" -}}
{{- $p := .Values.prometheus -}}
{{- if or $p.bearerToken.secretName $p.bearerToken.serviceAccountToken $p.basicAuth.secretName $p.tls.ca.name $p.tls.clientCertSecretName -}}true{{- end -}}
{{- end -}}

{{/* prometheus.scrapeIntervalSeconds as a Prometheus duration: whole seconds, else milliseconds. */}}
{{- define "modelscaler.scrapeInterval" -}}
{{- $seconds := float64 .Values.prometheus.scrapeIntervalSeconds -}}
{{- if eq $seconds (float64 (int $seconds)) -}}
{{- printf "%ds" (int $seconds) -}}
{{- else -}}
{{- printf "%dms" (int (mulf $seconds 1000)) -}}
{{- end -}}
{{- end -}}

{{/* The namespaces whose model pods the PodMonitor scrapes, when not all of them. */}}
{{- define "modelscaler.modelNamespaces" -}}
{{- if .Values.operator.watchNamespaces -}}
{{- toYaml .Values.operator.watchNamespaces -}}
{{- else -}}
{{- toYaml (list .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{/* Combinations the schema cannot express; each failure says what to change. */}}
{{- define "modelscaler.validate" -}}
{{- $p := .Values.prometheus -}}
{{- if and $p.bearerToken.secretName $p.bearerToken.serviceAccountToken -}}
{{- fail "prometheus.bearerToken: set secretName or serviceAccountToken, not both" -}}
{{- end -}}
{{- if and $p.basicAuth.secretName (or $p.bearerToken.secretName $p.bearerToken.serviceAccountToken) -}}
{{- fail "prometheus: choose basicAuth or bearerToken, not both" -}}
{{- end -}}
{{- if and $p.tls.insecureSkipVerify $p.tls.ca.name -}}
{{- fail "prometheus.tls: insecureSkipVerify and a ca cannot both be set" -}}
{{- end -}}
{{- $le := .Values.operator.leaderElection -}}
{{- if and (not $le.enabled) (gt (int .Values.replicaCount) 1) -}}
{{- fail "operator.leaderElection.enabled=false needs replicaCount: 1 (two active operators would both write)" -}}
{{- end -}}
{{- if ge (float64 $le.renewSeconds) (float64 $le.leaseDurationSeconds) -}}
{{- fail "operator.leaderElection.renewSeconds must be shorter than leaseDurationSeconds" -}}
{{- end -}}
{{- end -}}

{{/* The rules on ModelDeployments and the workloads they own (ClusterRole or per-namespace Role). */}}
{{- define "modelscaler.workloadRules" -}}
# The ModelDeployments: kopf's watch and index, and its progress kept in annotations (patch).
- apiGroups: ["serving.modelscaler.io"]
  resources: ["modeldeployments"]
  verbs: ["get", "list", "watch", "patch"]
# The control loop writes status (replicas, conditions, decisions).
- apiGroups: ["serving.modelscaler.io"]
  resources: ["modeldeployments/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion on the Deployment and Service it owns.
- apiGroups: ["serving.modelscaler.io"]
  resources: ["modeldeployments/finalizers"]
  verbs: ["update"]
# The owned Deployment: created and updated by server-side apply, watched for its status.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Replicas are written through the scale subresource only.
- apiGroups: ["apps"]
  resources: ["deployments/scale"]
  verbs: ["get", "patch"]
# The owned Service, by server-side apply.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "create", "patch"]
# The model pods: readiness (cold starts) and restarts, read from a watch.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
# Scaling Events on the ModelDeployment (a repeat bumps the count of the last one).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
# A HorizontalPodAutoscaler on an owned Deployment would fight the operator: it is detected.
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["list", "watch"]
{{- if .Values.rbac.keda }}
# So is a KEDA ScaledObject (the operator tolerates KEDA being absent).
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects"]
  verbs: ["list"]
{{- end }}
{{- end }}
