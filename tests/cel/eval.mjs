// Evaluate admission policies the way the API server does, with a real CEL implementation.
// stdin: {"policies": [ValidatingAdmissionPolicy...], "cases": [{"object", "namespaceObject"}]}
// stdout: per case, per policy: whether its matchConditions matched, and for each validation
// whether it passed, its message, or the evaluation error. `--schema` instead validates each
// policy or binding in stdin's "objects" against the upstream admissionregistration/v1 schema.
// `--rules` evaluates CRD x-kubernetes-validations rules: stdin {"cases": [{"rule", "self",
// "oldSelf"?}]}, stdout per case {value} or {error}.
import { evaluate } from '@marcbachmann/cel-js'
import {
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
} from 'kubernetes-models/admissionregistration.k8s.io/v1'
import fs from 'node:fs'

const input = JSON.parse(fs.readFileSync(0, 'utf8'))

function run(expr, vars) {
  try {
    return { value: evaluate(expr, vars) }
  } catch (e) {
    return { error: `${expr}: ${e.message}` }
  }
}

function evalPolicy(policy, c) {
  const vars = { object: c.object, oldObject: null, namespaceObject: c.namespaceObject ?? null }
  const conds = policy.spec.matchConditions ?? []
  const out = { policy: policy.metadata.name, matched: true, validations: [] }
  for (const m of conds) {
    const r = run(m.expression, vars)
    if (r.error) return { ...out, matched: false, error: r.error }
    if (r.value !== true) return { ...out, matched: false }
  }
  for (const v of policy.spec.validations) {
    const r = run(v.expression, vars)
    const res = { expression: v.expression }
    if (r.error) res.error = r.error
    else if (typeof r.value !== 'boolean') res.error = `${v.expression}: not a bool: ${r.value}`
    else res.passed = r.value
    if (res.passed === false) {
      if (v.messageExpression) {
        const m = run(v.messageExpression, vars)
        res.message = m.error ? undefined : m.value
        if (m.error) res.error = m.error
      } else {
        res.message = v.message
      }
    }
    out.validations.push(res)
  }
  return out
}

function schema(objects) {
  const kinds = { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding }
  return objects.map((o) => {
    const Kind = kinds[o.kind]
    if (!Kind) return { name: o.metadata?.name, error: `unknown kind ${o.kind}` }
    try {
      new Kind(o).validate()
      return { name: o.metadata.name, ok: true }
    } catch (e) {
      return { name: o.metadata?.name, error: e.message }
    }
  })
}

function rules(cases) {
  return cases.map((c) => run(c.rule, { self: c.self, oldSelf: c.oldSelf ?? null }))
}

const result = process.argv.includes('--schema')
  ? schema(input.objects)
  : process.argv.includes('--rules')
    ? rules(input.cases)
    : input.cases.map((c) => input.policies.map((p) => evalPolicy(p, c)))
process.stdout.write(JSON.stringify(result) + '\n')
