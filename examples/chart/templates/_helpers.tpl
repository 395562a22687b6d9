{{/* Names, labels and the hook's command line, shared by every template. */}}

{{- define "runtime-reconciler.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: cluster-scoped objects carry it, so releases never collide. */}}
{{- define "runtime-reconciler.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "runtime-reconciler.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "runtime-reconciler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "runtime-reconciler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runtime-reconciler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "runtime-reconciler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "runtime-reconciler.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "runtime-reconciler.platformNamespace" -}}
{{- default .Release.Namespace .Values.platformNamespace -}}
{{- end -}}

{{- define "runtime-reconciler.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}

{{/* The PVC holding the state, when the state is not in S3. */}}
{{- define "runtime-reconciler.stateClaim" -}}
{{- default (printf "%s-state" (include "runtime-reconciler.fullname" .)) .Values.state.persistentVolumeClaim.existingClaim -}}
{{- end -}}

{{- define "runtime-reconciler.stateLocation" -}}
{{- with .Values.state.s3.url -}}
{{- if not (regexMatch "^s3://[^/]+/.+" .) -}}
{{- fail (printf "state.s3.url %q is not an S3 URL: use s3://BUCKET/KEY" .) -}}
{{- end -}}
{{- . -}}
{{- else -}}
/var/lib/reconciler/state.json
{{- end -}}
{{- end -}}

{{/* The values file the hook reads: the composition exactly as Helm rendered it. */}}
{{- define "runtime-reconciler.valuesFile" -}}
{{- $composition := .Values.config.deployer.composition | default dict -}}
{{- dict "config" (dict "deployer" (dict "composition" $composition)) | toYaml -}}
{{- end -}}

{{/* The hook's arguments to the `reconciler` entrypoint, documented in README.md. */}}
{{- define "runtime-reconciler.applyArgs" -}}
- apply
- --auto-approve
- -f
- /etc/reconciler/values.yaml
- --target
- kubernetes
- --state
- {{ include "runtime-reconciler.stateLocation" . | quote }}
{{- with .Values.hook.lockTimeout }}
- --lock-timeout
- {{ . | quote }}
{{- end }}
{{- range .Values.hook.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Who the RBAC bindings grant their rules to: the hook's ServiceAccount. */}}
{{- define "runtime-reconciler.subjects" -}}
- kind: ServiceAccount
  name: {{ include "runtime-reconciler.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
