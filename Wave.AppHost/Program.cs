// Embedded mode: the Api, the /v2/ registry endpoints and the Builder worker in one web host, with in-process
// state, on http://localhost:9090 unless --urls / ASPNETCORE_URLS say otherwise.
var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultUrl("http://localhost:9090");

builder.AddServiceDefaults();
builder.AddWaveApi();
builder.AddWaveRegistryProxy();
builder.AddWaveBuilder();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapWaveApi();
app.MapWaveRegistryProxy();
app.MapWaveBuilder();

app.Run();
