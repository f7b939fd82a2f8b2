# Points envoy/envoy.yaml's spendgate clusters at the compose services (deploy/compose.yaml runs
# `sed -f` with this file over it, so the routes and the filter stay those of envoy/envoy.yaml).
# The policy endpoint is the api service; events and reservations go to the ingest service.
/- name: spendgate_api$/,/port_value/s/{address: 127\.0\.0\.1, port_value: 8080}/{address: api, port_value: 8080}/
/- name: spendgate_ingest$/,/port_value/s/{address: 127\.0\.0\.1, port_value: 8080}/{address: ingest, port_value: 8082}/
/- name: spendgate_budget$/,/port_value/s/{address: 127\.0\.0\.1, port_value: 8080}/{address: ingest, port_value: 8082}/
