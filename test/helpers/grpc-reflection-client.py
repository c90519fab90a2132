#!/usr/bin/python3
"""A gRPC client that knows nothing but the server's address (Debian's
python3-grpcio and python3-protobuf): everything else comes from server
reflection, as grpcurl or grpc_cli would do it.

  grpc-reflection-client.py TARGET REQUESTS_JSON

1. list_services, over grpc.reflection.v1 and over v1alpha;
2. file_containing_symbol for every listed service, and file_by_filename for
   every file those answers name; all answered FileDescriptorProtos go into a
   fresh descriptor_pool (which rejects malformed descriptors);
3. every method of every flowlens.* service: its description (input, output,
   streaming) from the pool, then a call with a request built by the pool's
   message classes from REQUESTS_JSON ({"Service/Method": {json fields}}; empty
   request otherwise): unary methods answer once, server-streaming ones give
   their first message.

Prints one JSON object. The reflection protocol's own messages are the
standard contract (grpc/reflection/v1/reflection.proto), written out below.
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

target = sys.argv[1]
requests = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}


def message_class(pool, name):
    descriptor = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, 'GetMessageClass'):  # protobuf >= 4.22
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def reflection_classes():
    """ServerReflectionRequest/Response of the reflection protocol (the fields this client uses)."""
    f = descriptor_pb2.FileDescriptorProto(name='reflection-client.proto', package='reflection', syntax='proto3')
    T = descriptor_pb2.FieldDescriptorProto

    def message(name, fields):
        m = f.message_type.add(name=name)
        for number, field_name, kind, type_name, repeated, oneof in fields:
            fd = m.field.add(name=field_name, number=number, type=kind,
                             label=T.LABEL_REPEATED if repeated else T.LABEL_OPTIONAL)
            if type_name:
                fd.type_name = '.reflection.' + type_name
            if oneof:
                if not m.oneof_decl:
                    m.oneof_decl.add(name='message')
                fd.oneof_index = 0
        return m

    S, B, M, I = T.TYPE_STRING, T.TYPE_BYTES, T.TYPE_MESSAGE, T.TYPE_INT32
    message('Request', [(1, 'host', S, None, False, False), (3, 'file_by_filename', S, None, False, True),
                        (4, 'file_containing_symbol', S, None, False, True), (7, 'list_services', S, None, False, True)])
    message('FileDescriptorResponse', [(1, 'file_descriptor_proto', B, None, True, False)])
    message('ServiceResponse', [(1, 'name', S, None, False, False)])
    message('ListServiceResponse', [(1, 'service', M, 'ServiceResponse', True, False)])
    message('ErrorResponse', [(1, 'error_code', I, None, False, False), (2, 'error_message', S, None, False, False)])
    message('Response', [(1, 'valid_host', S, None, False, False), (4, 'file_descriptor_response', M, 'FileDescriptorResponse', False, True),
                         (6, 'list_services_response', M, 'ListServiceResponse', False, True),
                         (7, 'error_response', M, 'ErrorResponse', False, True)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_class(pool, 'reflection.Request'), message_class(pool, 'reflection.Response')


Request, Response = reflection_classes()
channel = grpc.insecure_channel(target)


def reflect(version, **field):
    """One request on the ServerReflectionInfo stream of grpc.reflection.VERSION."""
    call = channel.stream_stream('/grpc.reflection.%s.ServerReflection/ServerReflectionInfo' % version,
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=Response.FromString)
    for answer in call(iter([Request(**field)]), timeout=20):
        return answer


out = {'services': {}, 'files': {}, 'errors': [], 'methods': {}}
for version in ('v1', 'v1alpha'):
    answer = reflect(version, list_services='')
    out['services'][version] = sorted(s.name for s in answer.list_services_response.service)

# the descriptors: by symbol, then by file name (the answers include imports)
protos = {}


def keep(answer, asked):
    if answer.WhichOneof('message') == 'error_response':
        out['errors'].append({'asked': asked, 'code': answer.error_response.error_code, 'message': answer.error_response.error_message})
        return []
    names = []
    for raw in answer.file_descriptor_response.file_descriptor_proto:
        proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
        protos.setdefault(proto.name, proto)
        names.append(proto.name)
    return names


service_names = out['services']['v1']
for name in service_names:
    if not name.startswith('grpc.reflection.'):
        keep(reflect('v1', file_containing_symbol=name), name)
for file_name in sorted(protos):
    out['files'][file_name] = keep(reflect('v1', file_by_filename=file_name), file_name)
out['files']['missing.proto'] = keep(reflect('v1', file_by_filename='missing.proto'), 'missing.proto')

# a pool takes a file after its imports
pool = descriptor_pool.DescriptorPool()
added = set()
while len(added) < len(protos):
    ready = [p for n, p in sorted(protos.items()) if n not in added and all(d in added for d in p.dependency)]
    if not ready:
        raise SystemExit('reflection answered files whose imports it did not answer: %s' % sorted(set(protos) - added))
    for p in ready:
        pool.Add(p)  # raises TypeError on a descriptor protobuf rejects (e.g. map_entry set by hand)
        added.add(p.name)

for name in service_names:
    if not name.startswith('flowlens.'):
        continue
    service = pool.FindServiceByName(name)
    for method in service.methods:
        key = '%s/%s' % (service.name, method.name)
        # the Python descriptor has no streaming flag: it is in the MethodDescriptorProto
        method_proto = descriptor_pb2.MethodDescriptorProto()
        method.CopyToProto(method_proto)
        streaming = method_proto.server_streaming
        In, Out = message_class(pool, method.input_type.full_name), message_class(pool, method.output_type.full_name)
        request = json_format.ParseDict(requests.get(key, {}), In())
        entry = {'input': method.input_type.full_name, 'output': method.output_type.full_name,
                 'serverStreaming': streaming, 'outputFields': [f.name for f in method.output_type.fields]}
        path = '/%s/%s' % (name, method.name)
        try:
            if streaming:
                call = channel.unary_stream(path, request_serializer=lambda m: m.SerializeToString(), response_deserializer=Out.FromString)
                stream = call(request, timeout=20)
                answer = next(iter(stream))
                stream.cancel()
            else:
                call = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(), response_deserializer=Out.FromString)
                answer = call(request, timeout=20)
            entry['answer'] = json_format.MessageToDict(answer)
        except grpc.RpcError as e:
            entry['error'] = {'code': e.code().name, 'details': e.details()}
        out['methods'][key] = entry

print(json.dumps(out))
